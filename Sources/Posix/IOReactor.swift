import CLinux
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Waits for file descriptors to become ready without blocking Swift's cooperative threads.
///
/// One background thread runs `epoll_wait`; tasks suspend in `wait(for:on:deadline:)` until
/// their descriptor is ready, their deadline passes (`Errno.timedOut`) or they are cancelled.
public final class IOReactor: Sendable {
    /// The process-wide reactor.
    public static let shared = IOReactor()

    public enum Interest: Sendable { case readable, writable }

    private struct Waiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
        let deadline: ContinuousClock.Instant?
    }

    private struct Slot {
        var read: Waiter?
        var write: Waiter?
        var events: UInt32 {
            (read == nil ? 0 : EPOLLIN.rawValue | EPOLLRDHUP.rawValue) | (write == nil ? 0 : EPOLLOUT.rawValue)
        }
    }

    private struct State {
        var slots: [Int32: Slot] = [:]
        var registered: Set<Int32> = []
        var cancelledBeforeWaiting: Set<UInt64> = []
        var nextID: UInt64 = 0
    }

    private let epoll: Int32
    private let wakeup: Int32
    private let state = Mutex(State())

    private init() {
        epoll = epoll_create1(Int32(EPOLL_CLOEXEC))
        wakeup = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        precondition(epoll >= 0 && wakeup >= 0, "epoll/eventfd: \(Errno.current)")
        var event = epoll_event(events: EPOLLIN.rawValue, data: epoll_data_t(fd: wakeup))
        epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event)
        let box = Unmanaged.passRetained(self)
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { raw in
            let reactor = Unmanaged<IOReactor>.fromOpaque(raw!).takeRetainedValue()
            reactor.loop()
            return nil
        }, box.toOpaque())
        precondition(started == 0, "pthread_create: \(Errno(rawValue: started))")
        pthread_detach(thread)
    }

    /// Suspends until `fd` is ready for `interest`.
    ///
    /// Throws `SystemError(.timedOut)` once `deadline` passes, and `CancellationError` when the task is cancelled.
    public func wait(for interest: Interest, on fd: Int32, deadline: ContinuousClock.Instant? = nil) async throws {
        let id = state.withLock { s -> UInt64 in s.nextID += 1; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let waiter = Waiter(id: id, continuation: continuation, deadline: deadline)
                let failure: (any Error)? = state.withLock { s in
                    if s.cancelledBeforeWaiting.remove(id) != nil { return CancellationError() }
                    var slot = s.slots[fd] ?? Slot()
                    if interest == .readable { guard slot.read == nil else { return SystemError(.invalidArgument, "two readers on fd \(fd)") }; slot.read = waiter }
                    else { guard slot.write == nil else { return SystemError(.invalidArgument, "two writers on fd \(fd)") }; slot.write = waiter }
                    s.slots[fd] = slot
                    if let error = arm(fd, slot.events, in: &s) {
                        s.slots[fd] = nil
                        return error
                    }
                    return nil
                }
                if let failure { continuation.resume(throwing: failure) } else if deadline != nil { poke() }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { s in
                guard var slot = s.slots[fd] else { s.cancelledBeforeWaiting.insert(id); return nil }
                var found: Waiter?
                if slot.read?.id == id { found = slot.read; slot.read = nil }
                if slot.write?.id == id { found = slot.write; slot.write = nil }
                if found == nil { s.cancelledBeforeWaiting.insert(id); return nil }
                s.slots[fd] = slot.read == nil && slot.write == nil ? nil : slot
                return found
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Forgets `fd` before it is closed: pending waiters fail with EBADF.
    public func forget(_ fd: Int32) {
        let waiters: [Waiter] = state.withLock { s in
            let slot = s.slots.removeValue(forKey: fd)
            if s.registered.remove(fd) != nil { epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nil) }
            return [slot?.read, slot?.write].compactMap { $0 }
        }
        for waiter in waiters { waiter.continuation.resume(throwing: SystemError(.badFileDescriptor, "fd \(fd) closed")) }
    }

    private func arm(_ fd: Int32, _ events: UInt32, in s: inout State) -> SystemError? {
        var event = epoll_event(events: events | EPOLLONESHOT.rawValue, data: epoll_data_t(fd: fd))
        var op = s.registered.contains(fd) ? EPOLL_CTL_MOD : EPOLL_CTL_ADD
        // A descriptor closed without `forget` left epoll silently; its number may be reused.
        while epoll_ctl(epoll, op, fd, &event) != 0 {
            let error = Errno.current
            if op == EPOLL_CTL_MOD && error == .noEntry { op = EPOLL_CTL_ADD; continue }
            if op == EPOLL_CTL_ADD && error == .exists { op = EPOLL_CTL_MOD; continue }
            return SystemError(error, "epoll_ctl fd \(fd)")
        }
        s.registered.insert(fd)
        return nil
    }

    private func poke() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeup, &one, 8)
    }

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        while true {
            let timeout = millisecondsToNextDeadline()
            let n = events.withUnsafeMutableBufferPointer { epoll_wait(epoll, $0.baseAddress, 64, timeout) }
            var ready: [(Waiter, (any Error)?)] = []
            state.withLock { s in
                for i in 0..<max(0, Int(n)) {
                    let fd = events[i].data.fd
                    if fd == wakeup {
                        var value: UInt64 = 0
                        _ = Glibc.read(wakeup, &value, 8)
                        continue
                    }
                    guard var slot = s.slots[fd] else { continue }
                    let flags = events[i].events
                    let failed = flags & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0
                    if let r = slot.read, failed || flags & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0 { ready.append((r, nil)); slot.read = nil }
                    if let w = slot.write, failed || flags & EPOLLOUT.rawValue != 0 { ready.append((w, nil)); slot.write = nil }
                    s.slots[fd] = slot.read == nil && slot.write == nil ? nil : slot
                    if s.slots[fd] != nil { _ = arm(fd, slot.events, in: &s) }
                }
                let now = ContinuousClock.now
                for (fd, var slot) in s.slots {
                    var changed = false
                    if let r = slot.read, let d = r.deadline, d <= now { ready.append((r, SystemError(.timedOut, "waiting to read"))); slot.read = nil; changed = true }
                    if let w = slot.write, let d = w.deadline, d <= now { ready.append((w, SystemError(.timedOut, "waiting to write"))); slot.write = nil; changed = true }
                    guard changed else { continue }
                    s.slots[fd] = slot.read == nil && slot.write == nil ? nil : slot
                    if s.slots[fd] != nil { _ = arm(fd, slot.events, in: &s) }
                }
            }
            for (waiter, error) in ready {
                if let error { waiter.continuation.resume(throwing: error) } else { waiter.continuation.resume() }
            }
        }
    }

    private func millisecondsToNextDeadline() -> Int32 {
        let next = state.withLock { s in
            s.slots.values.flatMap { [$0.read?.deadline, $0.write?.deadline] }.compactMap { $0 }.min()
        }
        guard let next else { return -1 }
        let remaining = next - ContinuousClock.now
        if remaining <= .zero { return 0 }
        let (seconds, attoseconds) = remaining.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }
}
