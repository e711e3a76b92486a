import Foundation

/// Prompt audio by file name, decoded once and shared; text-to-speech through espeak-ng,
/// synthesised into a cache folder (one WAV per text and voice) and then loaded like a file.
/// Thread-safe: the signalling side loads, the channel loop only reads the shared samples.
public final class PromptStore: @unchecked Sendable {
    public let promptDirectory: String
    public let cacheDirectory: String
    private var cache: [String: PromptAudio] = [:]
    private let lock = NSLock()

    public init(promptDirectory: String, cacheDirectory: String) {
        self.promptDirectory = promptDirectory
        self.cacheDirectory = cacheDirectory
    }

    /// Loads a prompt by absolute path or by name under the prompt directory (".wav" optional).
    public func load(_ name: String) throws -> PromptAudio {
        var path = name.hasPrefix("/") ? name : (promptDirectory as NSString).appendingPathComponent(name)
        if !FileManager.default.fileExists(atPath: path), FileManager.default.fileExists(atPath: path + ".wav") { path += ".wav" }
        return try loadFile(path, name: name)
    }

    /// Loads a WAV by its path as given (absolute, or relative to the working directory).
    func loadFile(_ path: String, name: String) throws -> PromptAudio {
        lock.lock()
        if let a = cache[path] { lock.unlock(); return a }
        lock.unlock()
        let audio = PromptAudio(name: name, samples: try WAVFile.readPrompt(path: path))
        lock.lock()
        cache[path] = audio
        lock.unlock()
        return audio
    }

    public enum TTSError: Error, CustomStringConvertible {
        case failed(String)
        public var description: String { if case .failed(let s) = self { return s }; return "" }
    }

    func speechFile(_ text: String, voice: String) -> String {
        let key = "\(voice)\u{1}\(text)"
        var hash: UInt64 = 0xcbf29ce484222325
        for b in key.utf8 { hash = (hash ^ UInt64(b)) &* 0x100000001b3 }
        return (cacheDirectory as NSString).appendingPathComponent("tts-\(String(hash, radix: 16)).wav")
    }

    public func hasCachedSpeech(_ text: String, voice: String) -> Bool {
        FileManager.default.fileExists(atPath: speechFile(text, voice: voice))
    }

    /// Speaks `text` with an espeak-ng voice ("en", "cmn" for Mandarin …); cached by content.
    /// Blocks while espeak-ng runs: call it off the signalling and channel loops.
    public func speech(_ text: String, voice: String = "en") throws -> PromptAudio {
        let file = speechFile(text, voice: voice)
        if !FileManager.default.fileExists(atPath: file) {
            try FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
            let tmp = file + ".\(getpid()).tmp"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.espeakPath ?? "/usr/bin/espeak-ng")
            p.arguments = ["-v", voice, "-w", tmp, "--", text]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { throw TTSError.failed("text-to-speech needs espeak-ng (apt-get install espeak-ng): \(error)") }
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw TTSError.failed("espeak-ng failed (status \(p.terminationStatus)) for voice \(voice)") }
            guard rename(tmp, file) == 0 else { throw TTSError.failed("cannot store \(file)") }
        }
        let audio = try loadFile(file, name: file)
        return PromptAudio(name: "tts:\(text)", samples: audio.samples)
    }

    static let espeakPath: String? = ["/usr/bin/espeak-ng", "/usr/local/bin/espeak-ng"].first { FileManager.default.isExecutableFile(atPath: $0) }
    public static var hasSpeech: Bool { espeakPath != nil }
}
