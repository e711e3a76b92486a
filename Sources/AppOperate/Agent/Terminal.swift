import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The terminal the agent console draws on: raw keys in, ANSI text out. Works in any VT100
/// terminal and in tmux; restores the terminal's settings on exit.
public final class Terminal {
    private var saved = termios()
    private var raw = false
    public let input: Int32
    public let output: Int32

    public init(input: Int32 = STDIN_FILENO, output: Int32 = STDOUT_FILENO) {
        self.input = input
        self.output = output
    }

    public var isTTY: Bool { isatty(input) == 1 }

    /// Keys one at a time, no echo (the console reads its own line input).
    public func enterRawMode() {
        guard isTTY, !raw else { return }
        tcgetattr(input, &saved)
        var t = saved
        t.c_lflag &= ~tcflag_t(ICANON | ECHO)
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(input, TCSANOW, &t)
        raw = true
        write("\u{1B}[?25l")   // hide the cursor
    }

    public func restore() {
        guard raw else { return }
        tcsetattr(input, TCSANOW, &saved)
        raw = false
        write("\u{1B}[?25h\n")
    }

    /// Blocks for one key (nil at end of input).
    public func readKey() -> UInt8? {
        var b: UInt8 = 0
        while true {
            let n = read(input, &b, 1)
            if n == 1 { return b }
            if n < 0, errno == EINTR { continue }
            return nil
        }
    }

    public func write(_ s: String) {
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(output, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { if errno == EINTR { continue }; return }
            off += n
        }
    }

    /// Clears the screen and draws `lines` from the top.
    public func draw(_ lines: [String]) {
        write("\u{1B}[H\u{1B}[2J" + lines.joined(separator: "\r\n"))
    }

    public var columns: Int {
        var w = winsize()
        return ioctl(output, UInt(TIOCGWINSZ), &w) == 0 && w.ws_col > 0 ? Int(w.ws_col) : 100
    }

    /// Reads a password from the controlling terminal without echo.
    public static func readPassword(prompt: String) -> String? {
        let fd = open("/dev/tty", O_RDWR)
        let input = fd >= 0 ? fd : STDIN_FILENO
        defer { if fd >= 0 { close(fd) } }
        let t = Terminal(input: input, output: fd >= 0 ? fd : STDERR_FILENO)
        t.write(prompt)
        var saved = termios()
        let tty = isatty(input) == 1
        if tty {
            tcgetattr(input, &saved)
            var q = saved
            q.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(input, TCSANOW, &q)
        }
        defer {
            if tty { tcsetattr(input, TCSANOW, &saved) }
            t.write("\n")
        }
        var line: [UInt8] = []
        while let k = t.readKey(), k != 10, k != 13 { line.append(k) }
        return String(decoding: line, as: UTF8.self)
    }
}
