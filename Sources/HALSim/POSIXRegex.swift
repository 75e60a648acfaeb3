/// A POSIX extended regular expression (the subset hal-sim accepts), matched the way
/// OpenBTS matches `Control.LUR.OpenRegistration` and `.Reject`: `regcomp(REG_EXTENDED)` and
/// `regexec` without anchoring, so the pattern may match anywhere in the IMSI unless it
/// says `^` / `$`.
///
/// Accepted: literal characters, `\` escaping the next character, `.`, bracket expressions
/// (`[0-9]`, `[^13]`, `[[:digit:]]`, `[[:alpha:]]`, `[[:alnum:]]`), anchors `^` and `$`,
/// groups `( )` with alternation `|`, and the quantifiers `*` `+` `?` `{n}` `{n,}` `{n,m}`.
/// Refused (an invalid value, as regcomp would refuse or as POSIX does not have it):
/// `(?...)` (no lookahead in POSIX), back-references `\1`–`\9`, unbalanced parentheses or
/// brackets, a quantifier with nothing to repeat, `{m,n}` with m > n or above 255.
struct POSIXRegex: Sendable {
    indirect enum Node: Sendable {
        case empty
        case literal(Character)
        case any
        case set(negated: Bool, items: [SetItem])
        case start, end
        case sequence([Node])
        case alternation([Node])
        case repeated(Node, min: Int, max: Int?)
    }

    enum SetItem: Sendable {
        case char(Character)
        case range(Character, Character)
        case digit, alpha, alnum
    }

    struct Invalid: Error, Sendable {}

    let pattern: String
    private let root: Node

    init(_ pattern: String) throws(Invalid) {
        self.pattern = pattern
        var parser = Parser(chars: Array(pattern))
        root = try parser.alternation()
        guard parser.index == parser.chars.count else { throw Invalid() }
    }

    /// Whether the pattern matches somewhere in `text` (regexec's semantics).
    func matches(_ text: String) -> Bool {
        let chars = Array(text)
        for start in 0...chars.count where Self.match(root, chars, start, { _ in true }) { return true }
        return false
    }

    /// Matches `node` at `i`, then asks `next` to match the rest (backtracking).
    private static func match(_ node: Node, _ s: [Character], _ i: Int, _ next: (Int) -> Bool) -> Bool {
        switch node {
        case .empty: return next(i)
        case .literal(let c): return i < s.count && s[i] == c && next(i + 1)
        case .any: return i < s.count && next(i + 1)
        case .set(let negated, let items):
            guard i < s.count else { return false }
            return items.contains { $0.contains(s[i]) } != negated && next(i + 1)
        case .start: return i == 0 && next(i)
        case .end: return i == s.count && next(i)
        case .sequence(let nodes): return matchSequence(nodes[...], s, i, next)
        case .alternation(let branches): return branches.contains { match($0, s, i, next) }
        case .repeated(let inner, let min, let max): return matchRepeat(inner, min, max, s, i, 0, next)
        }
    }

    private static func matchSequence(_ nodes: ArraySlice<Node>, _ s: [Character], _ i: Int, _ next: (Int) -> Bool) -> Bool {
        guard let first = nodes.first else { return next(i) }
        return match(first, s, i) { j in matchSequence(nodes.dropFirst(), s, j, next) }
    }

    /// Greedy repetition; an iteration that consumes nothing ends the loop (no endless `()*`).
    private static func matchRepeat(_ node: Node, _ min: Int, _ max: Int?, _ s: [Character], _ i: Int, _ count: Int,
                                    _ next: (Int) -> Bool) -> Bool {
        if max.map({ count < $0 }) ?? true,
           match(node, s, i, { j in (j > i || count < min) && matchRepeat(node, min, max, s, j, count + 1, next) }) {
            return true
        }
        return count >= min && next(i)
    }

    private struct Parser {
        let chars: [Character]
        var index = 0

        var peek: Character? { index < chars.count ? chars[index] : nil }

        mutating func alternation() throws(Invalid) -> Node {
            var branches = [try sequence()]
            while peek == "|" {
                index += 1
                branches.append(try sequence())
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func sequence() throws(Invalid) -> Node {
            var nodes: [Node] = []
            while let c = peek, c != "|", c != ")" {
                var atom = try self.atom()
                while let q = peek, q == "*" || q == "+" || q == "?" || q == "{" {
                    if case .start = atom { throw Invalid() }
                    if case .end = atom { throw Invalid() }
                    let (min, max) = try quantifier()
                    atom = .repeated(atom, min: min, max: max)
                }
                nodes.append(atom)
            }
            return nodes.isEmpty ? .empty : nodes.count == 1 ? nodes[0] : .sequence(nodes)
        }

        mutating func atom() throws(Invalid) -> Node {
            let c = chars[index]
            index += 1
            switch c {
            case ".": return .any
            case "^": return .start
            case "$": return .end
            case "*", "+", "?", "{": throw Invalid()   // nothing to repeat
            case "(":
                if peek == "?" { throw Invalid() }       // (?...) is not POSIX
                let inner = try alternation()
                guard peek == ")" else { throw Invalid() }
                index += 1
                return inner
            case "[": return try bracket()
            case "\\":
                guard let escaped = peek, !("1"..."9").contains(escaped) else { throw Invalid() }
                index += 1
                return .literal(escaped)
            default: return .literal(c)
            }
        }

        mutating func quantifier() throws(Invalid) -> (Int, Int?) {
            let c = chars[index]
            index += 1
            switch c {
            case "*": return (0, nil)
            case "+": return (1, nil)
            case "?": return (0, 1)
            default:
                let min = try number()
                var max: Int? = min
                if peek == "," {
                    index += 1
                    max = peek == "}" ? nil : try number()
                }
                guard peek == "}", max.map({ $0 >= min }) ?? true else { throw Invalid() }
                index += 1
                return (min, max)
            }
        }

        mutating func number() throws(Invalid) -> Int {
            var digits = ""
            while let c = peek, c.isASCII, c.isNumber { digits.append(c); index += 1 }
            guard let value = Int(digits), value <= 255 else { throw Invalid() }
            return value
        }

        mutating func bracket() throws(Invalid) -> Node {
            var negated = false
            if peek == "^" { negated = true; index += 1 }
            var items: [SetItem] = []
            var first = true
            while true {
                guard let c = peek else { throw Invalid() }
                if c == "]" && !first { index += 1; break }
                first = false
                if c == "[" && index + 1 < chars.count && chars[index + 1] == ":" {
                    guard let close = (index + 2..<chars.count).first(where: { chars[$0] == ":" && $0 + 1 < chars.count && chars[$0 + 1] == "]" })
                    else { throw Invalid() }
                    switch String(chars[(index + 2)..<close]) {
                    case "digit": items.append(.digit)
                    case "alpha": items.append(.alpha)
                    case "alnum": items.append(.alnum)
                    default: throw Invalid()
                    }
                    index = close + 2
                    continue
                }
                index += 1
                if peek == "-", index + 1 < chars.count, chars[index + 1] != "]" {
                    let upper = chars[index + 1]
                    guard c <= upper else { throw Invalid() }
                    items.append(.range(c, upper))
                    index += 2
                } else {
                    items.append(.char(c))
                }
            }
            return .set(negated: negated, items: items)
        }
    }
}

extension POSIXRegex.SetItem {
    func contains(_ c: Character) -> Bool {
        switch self {
        case .char(let x): c == x
        case .range(let low, let high): low <= c && c <= high
        case .digit: c.isASCII && c.isNumber
        case .alpha: c.isASCII && c.isLetter
        case .alnum: c.isASCII && (c.isLetter || c.isNumber)
        }
    }
}
