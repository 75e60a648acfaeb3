@testable import HALLinux
import Synchronization
import Testing

@Suite("command gate and one-shot values")
struct AsyncPrimitivesTests {
    struct Late: Error {}

    @Test func theGateLetsOneThroughAtATimeInOrder() async throws {
        let gate = CommandGate()
        final class Tally: Sendable {
            let order = Mutex<[Int]>([])
            let inside = Atomic<Int>(0)
        }
        let tally = Tally()
        let deadline = ContinuousClock.now + .seconds(30)
        try await gate.acquire(until: deadline) { Late() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<8 {
                group.addTask {
                    try await gate.acquire(until: deadline) { Late() }
                    #expect(tally.inside.add(1, ordering: .relaxed).newValue == 1)
                    tally.order.withLock { $0.append(i) }
                    try await Task.sleep(for: .milliseconds(2))
                    tally.inside.subtract(1, ordering: .relaxed)
                    gate.release()
                }
                try await Task.sleep(for: .milliseconds(5))  // queue them in order
            }
            gate.release()
            try await group.waitForAll()
        }
        #expect(tally.order.withLock { $0 } == Array(0..<8))
    }

    @Test func aWaiterGivesUpAtItsDeadlineAndTheNextStillGetsItsTurn() async throws {
        let gate = CommandGate()
        try await gate.acquire(until: .now + .seconds(1)) { Late() }
        await #expect(throws: Late.self) { try await gate.acquire(until: .now + .milliseconds(30)) { Late() } }
        let patient = Task { try await gate.acquire(until: .now + .seconds(30)) { Late() } }
        try await Task.sleep(for: .milliseconds(20))
        gate.release()
        try await patient.value
        gate.release()
        try await gate.acquire(until: .now + .milliseconds(100)) { Late() }  // free again
    }

    @Test func aOneShotDeliversOnceAndTimesOut() async throws {
        let value = OneShot<Int>()
        #expect(value.complete(.success(1)))
        #expect(!value.complete(.success(2)))
        #expect(try await value.value() == 1)
        let never = OneShot<Int>()
        await #expect(throws: Late.self) { try await never.value(until: .now + .milliseconds(20)) { Late() } }
    }

    @Test func cancellingTheWaiterFailsTheOneShot() async throws {
        let value = OneShot<Int>()
        let waiter = Task { try await value.value() }
        try await Task.sleep(for: .milliseconds(20))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }

    @Test func aCancelledWaiterLeavesTheQueueAndTheTurnPassesOn() async throws {
        let gate = CommandGate()
        try await gate.acquire(until: .now + .seconds(1)) { Late() }
        let quitter = Task { try await gate.acquire(until: .now + .seconds(30)) { Late() } }
        try await Task.sleep(for: .milliseconds(20))
        let next = Task { try await gate.acquire(until: .now + .seconds(30)) { Late() } }
        try await Task.sleep(for: .milliseconds(20))
        quitter.cancel()
        await #expect(throws: CancellationError.self) { try await quitter.value }
        gate.release()
        try await next.value  // the turn skipped the quitter
        await #expect(throws: Late.self) { try await gate.acquire(until: .now + .milliseconds(20)) { Late() } }
        gate.release()
    }

    @Test func aWaiterThatTimedOutJustAsItsTurnCameDoesNotKeepTheGate() async throws {
        let gate = CommandGate()
        for _ in 0..<50 {
            try await gate.acquire(until: .now + .seconds(1)) { Late() }
            let racer = Task { try await gate.acquire(until: .now + .milliseconds(5)) { Late() } }
            try await Task.sleep(for: .milliseconds(5))
            gate.release()
            if (try? await racer.value) != nil { gate.release() }
            // Whoever won, the gate is free again now.
            try await gate.acquire(until: .now + .milliseconds(200)) { Late() }
            gate.release()
        }
    }

    @Test func racingCompletionsResolveAOneShotExactlyOnce() async throws {
        for _ in 0..<100 {
            let value = OneShot<Int>()
            let winners = await withTaskGroup(of: Bool.self) { group in
                for i in 0..<4 { group.addTask { value.complete(.success(i)) } }
                var count = 0
                for await won in group where won { count += 1 }
                return count
            }
            #expect(winners == 1)
            #expect((0..<4).contains(try await value.value()))
        }
    }
}
