import Foundation
import RunbookCore

/// Why a message was dropped, as counted per flow.
public enum MalformedReason: String, Sendable, CaseIterable {
    case notJSON = "not_json"
    case notObject = "not_object"
    case missingType = "missing_type"
    case unknownType = "unknown_type"
    case missingField = "missing_field"
    case wrongType = "wrong_type"
    case tooLarge = "too_large"
    case unknownFire = "unknown_fire"
    case duplicateFire = "duplicate_fire"
    case finalFire = "fire_already_final"
    case multipart = "multipart"
    case outOfRange = "out_of_range"
}

/// A message that cannot be used, with what is wrong with it.
public struct MalformedMessage: Error, Sendable, CustomStringConvertible {
    public var reason: MalformedReason
    public var detail: String

    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// The messages of the flows: single-frame UTF-8 JSON objects with a `type`. Unknown fields are ignored.
public enum FlowMessage: Sendable, Equatable {
    case tick(symbol: String, bid: Double, ask: Double, timeMsc: Int64, volume: Double)
    case heartbeat(target: String, account: String?, timeMsc: Int64?)
    case signal(Signal)
    case fire(Fire)
    case test(probeID: String)
    case confirmation(Confirmation)
    case close(Close)
    case positions(Positions)

    public struct Signal: Sendable, Equatable, Codable {
        public var id: String
        public var symbol: String
        public var direction: String
        public var entry: Double?
        public var stopLoss: Double?
        public var takeProfit: Double?
        public var confidence: Double?
        public var timeMsc: Int64?
        public var raw: String
    }

    public struct Fire: Sendable, Equatable, Codable {
        public var id: String
        public var target: String
        public var symbol: String
        public var direction: String
        public var lot: Double
        public var stopLoss: Double?
        public var takeProfit: Double?

        public init(id: String, target: String, symbol: String, direction: String, lot: Double, stopLoss: Double? = nil, takeProfit: Double? = nil) {
            self.id = id
            self.target = target
            self.symbol = symbol
            self.direction = direction
            self.lot = lot
            self.stopLoss = stopLoss
            self.takeProfit = takeProfit
        }

        /// The frame the command queue carries and the EA receives.
        public var json: String {
            var object: [String: Any] = ["type": "fire", "fire_id": id, "target_uuid": target, "symbol": symbol, "direction": direction, "lot": lot]
            if let stopLoss { object["sl"] = stopLoss }
            if let takeProfit { object["tp"] = takeProfit }
            return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    public struct Confirmation: Sendable, Equatable, Codable {
        public var fireID: String
        public var filled: Bool
        public var ticket: Int64?
        public var price: Double?
        public var error: String?
        public var timeMsc: Int64?
    }

    public struct Close: Sendable, Equatable, Codable {
        public var fireID: String
        public var ticket: Int64?
        public var exitPrice: Double?
        public var pnl: Double
        public var timeMsc: Int64?
    }

    /// An EA's report of every position it holds (on the confirmation listener, say once a minute).
    public struct Positions: Sendable, Equatable, Codable {
        public var target: String
        public var positions: [Position]
        public var timeMsc: Int64?

        public init(target: String, positions: [Position], timeMsc: Int64? = nil) {
            self.target = target
            self.positions = positions
            self.timeMsc = timeMsc
        }
    }

    /// The least lots a reported position may hold.
    public static let minimumLots = 0.000001
    /// The most positions one report may list.
    public static let maximumPositions = 1000

    /// Frames larger than this are refused as `too_large`.
    public static let maximumSize = 64 * 1024
    /// Names and identifiers (symbols, EA ids, fire, signal and probe ids) longer than this are
    /// refused as `out_of_range`.
    public static let maximumNameSize = 128
    /// The largest lot a fire may carry.
    public static let maximumLot = 10_000.0
    /// The largest profit or loss a close may report, either way.
    public static let maximumPnL = 1e12

    /// Reads one frame; throws what is wrong with it.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(MalformedMessage) -> FlowMessage {
        guard bytes.count <= maximumSize else { throw MalformedMessage(reason: .tooLarge, detail: "\(bytes.count) bytes, more than \(maximumSize)") }
        let data = Data(bytes)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw MalformedMessage(reason: .notJSON, detail: "not valid JSON (\(bytes.count) bytes)")
        }
        guard let fields = object as? [String: Any] else { throw MalformedMessage(reason: .notObject, detail: "JSON but not an object") }
        return try parse(Fields(values: fields), raw: data)
    }

    public static func parse(_ bytes: [UInt8]) throws(MalformedMessage) -> FlowMessage {
        try bytes.withUnsafeBytes { result(of: $0) }.get()
    }

    public static func parse(_ text: String) throws(MalformedMessage) -> FlowMessage {
        try parse(Array(text.utf8))
    }

    /// `parse` as a value, for closures that cannot throw.
    public static func result(of bytes: UnsafeRawBufferPointer) -> Result<FlowMessage, MalformedMessage> {
        do { return .success(try parse(bytes)) } catch { return .failure(error) }
    }

    private static func parse(_ fields: Fields, raw: Data) throws(MalformedMessage) -> FlowMessage {
        guard let type = fields.values["type"] else { throw MalformedMessage(reason: .missingType, detail: "no \"type\" field") }
        guard let name = type as? String else { throw MalformedMessage(reason: .wrongType, detail: "\"type\" is not text") }
        switch name {
        case "tick":
            let symbol = try fields.text("symbol"), bid = try fields.number("bid"), ask = try fields.number("ask")
            let time = try fields.number("time_msc"), volume = try fields.optionalNumber("volume") ?? 0
            if let problem = TickLimits.problem(symbol: symbol.utf8.count, bid: bid, ask: ask, timeMsc: time, volume: volume) {
                throw MalformedMessage(reason: .outOfRange, detail: problem)
            }
            guard !symbol.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw MalformedMessage(reason: .outOfRange, detail: "the symbol holds control characters")
            }
            return .tick(symbol: symbol, bid: bid, ask: ask, timeMsc: Int64(time), volume: volume)
        case "heartbeat":
            return .heartbeat(target: try fields.text("target_uuid"), account: try fields.optionalText("account"), timeMsc: try fields.optionalInteger("time_msc"))
        case "signal":
            return .signal(Signal(
                id: try fields.text("signal_id"), symbol: try fields.text("symbol"), direction: try fields.direction(),
                entry: try fields.optionalPrice("entry"), stopLoss: try fields.optionalPrice("sl"), takeProfit: try fields.optionalPrice("tp"),
                confidence: try fields.optionalNumber("confidence"), timeMsc: try fields.optionalInteger("time_msc"),
                raw: String(decoding: raw, as: UTF8.self)
            ))
        case "fire":
            let lot = try fields.number("lot")
            guard lot > 0 else { throw MalformedMessage(reason: .wrongType, detail: "\"lot\" must be more than 0") }
            guard lot <= maximumLot else { throw MalformedMessage(reason: .outOfRange, detail: "\"lot\" is more than \(maximumLot)") }
            return .fire(Fire(
                id: try fields.text("fire_id"), target: try fields.text("target_uuid"), symbol: try fields.text("symbol"),
                direction: try fields.direction(), lot: lot, stopLoss: try fields.optionalPrice("sl"), takeProfit: try fields.optionalPrice("tp")
            ))
        case "test":
            return .test(probeID: try fields.text("probe_id"))
        case "confirmation":
            let status = try fields.text("status").lowercased()
            guard status == "filled" || status == "failed" else { throw MalformedMessage(reason: .wrongType, detail: "\"status\" must be filled or failed, not \(status)") }
            return .confirmation(Confirmation(
                fireID: try fields.text("fire_id"), filled: status == "filled", ticket: try fields.optionalInteger("ticket"),
                price: try fields.optionalPrice("price"), error: try fields.optionalText("error"), timeMsc: try fields.optionalInteger("time_msc")
            ))
        case "close":
            return .close(Close(
                fireID: try fields.text("fire_id"), ticket: try fields.optionalInteger("ticket"), exitPrice: try fields.optionalPrice("exit_price"),
                pnl: try fields.pnl(), timeMsc: try fields.optionalInteger("time_msc")
            ))
        case "positions":
            return .positions(Positions(target: try fields.text("target_uuid"), positions: try fields.positions(), timeMsc: try fields.optionalInteger("time_msc")))
        default:
            throw MalformedMessage(reason: .unknownType, detail: "unknown type \"\(name.prefix(40))\"")
        }
    }

    /// Typed reads of a JSON object's fields.
    private struct Fields {
        let values: [String: Any]

        func text(_ key: String) throws(MalformedMessage) -> String {
            guard let value = values[key] else { throw MalformedMessage(reason: .missingField, detail: "no \"\(key)\" field") }
            guard let text = value as? String, !text.isEmpty else { throw MalformedMessage(reason: .wrongType, detail: "\"\(key)\" is not text") }
            guard text.utf8.count <= FlowMessage.maximumNameSize else {
                throw MalformedMessage(reason: .outOfRange, detail: "\"\(key)\" is \(text.utf8.count) bytes, more than \(FlowMessage.maximumNameSize)")
            }
            return text
        }

        func optionalText(_ key: String) throws(MalformedMessage) -> String? {
            guard let value = values[key], !(value is NSNull) else { return nil }
            if let text = value as? String { return text }
            if let number = value as? NSNumber, !Self.isBool(number) { return number.stringValue }
            throw MalformedMessage(reason: .wrongType, detail: "\"\(key)\" is not text")
        }

        func number(_ key: String) throws(MalformedMessage) -> Double {
            guard let value = values[key] else { throw MalformedMessage(reason: .missingField, detail: "no \"\(key)\" field") }
            guard let number = value as? NSNumber, !Self.isBool(number), number.doubleValue.isFinite else {
                throw MalformedMessage(reason: .wrongType, detail: "\"\(key)\" is not a number")
            }
            // Foundation keeps a number of many digits as a decimal whose double is not correctly
            // rounded; its digits read again give the double the wire-format scanner reads.
            if let exact = Double(number.description), exact.isFinite { return exact }
            return number.doubleValue
        }

        func optionalNumber(_ key: String) throws(MalformedMessage) -> Double? {
            guard let value = values[key], !(value is NSNull) else { return nil }
            return try number(key)
        }

        /// A price: within `TickLimits.price`.
        func optionalPrice(_ key: String) throws(MalformedMessage) -> Double? {
            guard let value = try optionalNumber(key) else { return nil }
            guard TickLimits.price.contains(value) else { throw MalformedMessage(reason: .outOfRange, detail: "\"\(key)\" is outside \(TickLimits.price.lowerBound) to \(TickLimits.price.upperBound)") }
            return value
        }

        func pnl() throws(MalformedMessage) -> Double {
            let value = try number("pnl")
            guard abs(value) <= FlowMessage.maximumPnL else { throw MalformedMessage(reason: .outOfRange, detail: "\"pnl\" is beyond \(FlowMessage.maximumPnL) either way") }
            return value
        }

        func integer(_ key: String) throws(MalformedMessage) -> Int64 {
            let value = try number(key)
            guard let whole = Int64(exactly: value), abs(whole) < 9_000_000_000_000_000_000 else {
                throw MalformedMessage(reason: value.rounded() == value ? .outOfRange : .wrongType, detail: "\"\(key)\" is not a whole number within 64 bits")
            }
            return whole
        }

        func optionalInteger(_ key: String) throws(MalformedMessage) -> Int64? {
            guard let value = values[key], !(value is NSNull) else { return nil }
            return try integer(key)
        }

        /// `positions`: a list (empty when flat) of objects with a ticket, a symbol and lots.
        func positions() throws(MalformedMessage) -> [Position] {
            guard let value = values["positions"] else { throw MalformedMessage(reason: .missingField, detail: "no \"positions\" field") }
            guard let list = value as? [Any] else { throw MalformedMessage(reason: .wrongType, detail: "\"positions\" is not a list") }
            guard list.count <= FlowMessage.maximumPositions else {
                throw MalformedMessage(reason: .outOfRange, detail: "\(list.count) positions, more than \(FlowMessage.maximumPositions)")
            }
            var result: [Position] = []
            var tickets = Set<Int64>()
            for (index, item) in list.enumerated() {
                guard let object = item as? [String: Any] else { throw MalformedMessage(reason: .wrongType, detail: "position \(index + 1) is not an object") }
                let fields = Fields(values: object)
                let position: Position
                do {
                    position = Position(ticket: try fields.integer("ticket"), symbol: try fields.text("symbol"), lots: try fields.number("lots"))
                } catch {
                    throw MalformedMessage(reason: error.reason, detail: "position \(index + 1): \(error.detail)")
                }
                guard !position.symbol.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) }) else {
                    throw MalformedMessage(reason: .outOfRange, detail: "position \(index + 1): the symbol holds control or format characters")
                }
                // From 2^53 on, a ticket read as a JSON number may not be the ticket sent.
                guard position.ticket > 0, position.ticket < 1 << 53 else {
                    throw MalformedMessage(reason: .outOfRange, detail: "position \(index + 1): \"ticket\" must be from 1 to 2^53 - 1")
                }
                guard position.lots >= FlowMessage.minimumLots, position.lots <= FlowMessage.maximumLot else {
                    throw MalformedMessage(reason: .outOfRange, detail: "position \(index + 1): \"lots\" must be from \(FlowMessage.minimumLots) to \(FlowMessage.maximumLot)")
                }
                guard tickets.insert(position.ticket).inserted else {
                    throw MalformedMessage(reason: .outOfRange, detail: "position \(index + 1): ticket \(position.ticket) is listed twice")
                }
                result.append(position)
            }
            return result
        }

        func direction() throws(MalformedMessage) -> String {
            let direction = try text("direction").uppercased()
            guard direction == "BUY" || direction == "SELL" else { throw MalformedMessage(reason: .wrongType, detail: "\"direction\" must be BUY or SELL") }
            return direction
        }

        static func isBool(_ number: NSNumber) -> Bool {
            String(cString: number.objCType) == "c"
        }
    }
}
