import Hummingbird
import HummingbirdTLS
import HummingbirdWebSocket

enum WebPlaceholder {}
