import CCurl
import Foundation

/// One libcurl easy handle with typed options. Not shared between threads.
public final class CurlEasy {
    private let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// Lists set with `set(_:list:)`, alive until the handle goes.
    private var lists: [UnsafeMutablePointer<curl_slist>?] = []
    private let sink = Sink()

    /// Errors carry libcurl's own message (curl_easy_strerror).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var code: Int
        public var description: String
    }

    /// What a transfer collects: the response body (bounded) and whether to stop; what it uploads.
    final class Sink: @unchecked Sendable {
        var body = Data()
        var limit = 1 << 20
        var dropped = 0
        /// Response header lines (bounded), and the protocol's lines from the server when asked.
        var headers: [String] = []
        var serverLines: [String] = []
        var upload: [UInt8] = []
        var uploaded = 0
        var uploadFinished = false
        private let lock = NSLock()
        private var cancelled = false

        func cancel() { lock.withLock { cancelled = true } }
        var isCancelled: Bool { lock.withLock { cancelled } }
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init() throws {
        _ = Self.globalInit
        guard let handle = curl_easy_init() else { throw Failure(code: -1, description: "libcurl could not create a handle") }
        self.handle = handle
        try set(CURLOPT_NOSIGNAL, 1)
    }

    deinit {
        curl_slist_free_all(headerList)
        for list in lists { curl_slist_free_all(list) }
        curl_easy_cleanup(handle)
    }

    public func set(_ option: CURLoption, _ value: String) throws {
        try check(runbook_curl_setopt_string(handle, option, value))
    }

    public func set(_ option: CURLoption, _ value: Int) throws {
        try check(runbook_curl_setopt_long(handle, option, value))
    }

    public func setHeaders(_ headers: [String: String]) throws {
        curl_slist_free_all(headerList)
        headerList = nil
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
            headerList = curl_slist_append(headerList, "\(name): \(value)")
        }
        try check(runbook_curl_setopt_list(handle, CURLOPT_HTTPHEADER, headerList))
    }

    /// Sets an option that takes a list of strings (CURLOPT_MAIL_RCPT).
    public func set(_ option: CURLoption, list: [String]) throws {
        var head: UnsafeMutablePointer<curl_slist>?
        for item in list { head = curl_slist_append(head, item) }
        lists.append(head)
        try check(runbook_curl_setopt_list(handle, option, head))
    }

    /// Uploads `data` (an SMTP message): libcurl reads it through a callback.
    public func setUpload(_ data: [UInt8]) throws {
        sink.upload = data
        sink.uploaded = 0
        sink.uploadFinished = false
        try set(CURLOPT_UPLOAD, 1)
        try check(runbook_curl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(sink).toOpaque()))
        try check(runbook_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION) { buffer, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let length = min(size * count, sink.upload.count - sink.uploaded)
            guard length > 0, let buffer else {
                sink.uploadFinished = true
                return 0
            }
            sink.upload.withUnsafeBytes { bytes in
                UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + sink.uploaded, byteCount: length)
            }
            sink.uploaded += length
            return length
        })
    }

    /// Whether libcurl has read all of the upload: after that, the server may have the whole of it.
    public var uploadFinished: Bool { sink.uploadFinished }

    /// Keeps the lines the server sends in the protocol's own exchange (SMTP's replies), for
    /// reasons. What the client sends (a login among it) is never kept.
    public func keepServerLines() throws {
        try check(runbook_curl_setopt_pointer(handle, CURLOPT_DEBUGDATA, Unmanaged.passUnretained(sink).toOpaque()))
        try check(runbook_curl_setopt_debug_callback(handle) { _, type, data, size, context in
            guard type == CURLINFO_HEADER_IN, let data else { return 0 }
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let line = String(decoding: UnsafeRawBufferPointer(start: data, count: min(size, 512)), as: UTF8.self)
            sink.serverLines.append(line.trimmingCharacters(in: .whitespacesAndNewlines))
            if sink.serverLines.count > 20 { sink.serverLines.removeFirst() }
            return 0
        })
        try set(CURLOPT_VERBOSE, 1)
    }

    /// The server's protocol lines kept by `keepServerLines()`, the last at the end.
    public var serverLines: [String] { sink.serverLines }

    /// The response's header lines, without line endings.
    public var responseHeaders: [String] { sink.headers }

    /// Keeps at most `limit` bytes of the response body.
    public func setBodyLimit(_ limit: Int) {
        sink.limit = limit
    }

    /// Runs the transfer on the calling thread (a queue of the caller's own, never an async executor).
    public func performNow() throws {
        try prepareTransfer()
        try check(curl_easy_perform(handle))
    }

    /// Runs the transfer on a thread of its own; a cancelled task aborts it.
    public func perform() async throws -> (body: Data, dropped: Int) {
        try prepareTransfer()
        let sink = self.sink
        let handle = UncheckedHandle(pointer: handle)
        let code: CURLcode = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread {
                    continuation.resume(returning: curl_easy_perform(handle.pointer))
                }
            }
        } onCancel: {
            sink.cancel()
        }
        if sink.isCancelled { throw CancellationError() }
        try check(code)
        return (sink.body, sink.dropped)
    }

    /// Points libcurl's callbacks at this handle's sink.
    private func prepareTransfer() throws {
        let context = Unmanaged.passUnretained(sink).toOpaque()
        try check(runbook_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
        try check(runbook_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            let room = max(0, sink.limit - sink.body.count)
            if let data, room > 0 { sink.body.append(UnsafeRawPointer(data).assumingMemoryBound(to: UInt8.self), count: min(room, length)) }
            sink.dropped += max(0, length - room)
            return length
        })
        try check(runbook_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
        try check(runbook_curl_setopt_data_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let sink = Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue()
            let length = size * count
            if let data, sink.headers.count < 100 {
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: min(length, 1024)), as: UTF8.self)
                sink.headers.append(line.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return length
        })
        try check(runbook_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, context))
        try check(runbook_curl_setopt_progress_callback(handle) { context, _, _, _, _ in
            Unmanaged<Sink>.fromOpaque(context!).takeUnretainedValue().isCancelled ? 1 : 0
        })
        try set(CURLOPT_NOPROGRESS, 0)
    }

    public func info(_ info: CURLINFO) -> Int {
        var value = 0
        _ = runbook_curl_getinfo_long(handle, info, &value)
        return value
    }

    public func infoSeconds(_ info: CURLINFO) -> Double {
        var value = 0.0
        _ = runbook_curl_getinfo_double(handle, info, &value)
        return value
    }

    private func check(_ code: CURLcode) throws {
        guard code != CURLE_OK else { return }
        throw Failure(code: Int(code.rawValue), description: String(cString: curl_easy_strerror(code)))
    }

    /// The handle crosses to the transfer thread while this object waits for it.
    private struct UncheckedHandle: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
    }
}
