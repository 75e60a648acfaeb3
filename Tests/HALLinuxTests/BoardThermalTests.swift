import HAL
@testable import HALLinux
import Testing

/// `SysfsThermal` and `ThermalAlarms` against a fake `/sys/class/thermal` in a temp directory.
@Suite("SysfsThermal")
struct BoardThermalTests {
    /// Two zones like an ARM board's: the CPU with a passive and a critical trip, and a modem
    /// zone with only a fan (active) trip.
    static func makeTree() -> BoardScratch {
        let tree = BoardScratch("thermal")
        tree.write("thermal_zone0/type", "cpu-thermal\n")
        tree.write("thermal_zone0/temp", "45000\n")
        tree.write("thermal_zone0/trip_point_0_temp", "85000\n")
        tree.write("thermal_zone0/trip_point_0_type", "passive\n")
        tree.write("thermal_zone0/trip_point_0_hyst", "3000\n")
        tree.write("thermal_zone0/trip_point_1_temp", "105000\n")
        tree.write("thermal_zone0/trip_point_1_type", "critical\n")
        tree.write("thermal_zone10/type", "modem\n")
        tree.write("thermal_zone10/temp", "38500\n")
        tree.write("thermal_zone10/trip_point_0_temp", "60000\n")
        tree.write("thermal_zone10/trip_point_0_type", "active\n")
        tree.write("thermal_zone2/type", "pmic\n")
        tree.write("thermal_zone2/temp", "-5250\n")
        tree.write("cooling_device0/type", "fan\n")
        return tree
    }

    @Test func readsZonesTypesTemperaturesAndTripPoints() throws {
        let tree = Self.makeTree()
        defer { tree.remove() }
        let zones = try SysfsThermal(root: tree.path).readZones()
        #expect(zones.map(\.zone) == ["thermal_zone0", "thermal_zone2", "thermal_zone10"])
        #expect(zones.map(\.type) == ["cpu-thermal", "pmic", "modem"])
        #expect(zones.map(\.celsius) == [45.0, -5.25, 38.5])
        #expect(zones.allSatisfy { $0.problem == nil })
        #expect(zones[0].tripPoints == [
            ThermalTripPoint(index: 0, celsius: 85, type: "passive", hysteresisCelsius: 3),
            ThermalTripPoint(index: 1, celsius: 105, type: "critical"),
        ])
        #expect(zones[0].alarmTrip?.celsius == 85)
        #expect(zones[1].alarmTrip == nil)
        #expect(zones[2].alarmTrip?.type == "active", "a zone with only a fan trip alarms at it")
    }

    @Test func alarmWhenOverTheTripThenClearBelowItsHysteresis() throws {
        let tree = Self.makeTree()
        defer { tree.remove() }
        let sensors = SysfsThermal(root: tree.path)
        var alarms = ThermalAlarms()
        #expect(alarms.update(try sensors.readZones()).isEmpty)

        tree.write("thermal_zone0/temp", "86500\n")
        #expect(alarms.update(try sensors.readZones()) == [.thermalAlarm(zone: "thermal_zone0", celsius: 86.5, limit: 85)])
        #expect(alarms.isDegraded)
        #expect(alarms.update(try sensors.readZones()).isEmpty, "an alarm is reported once")

        tree.write("thermal_zone0/temp", "83000\n")  // below the trip, inside its 3 °C hysteresis
        #expect(alarms.update(try sensors.readZones()).isEmpty)
        tree.write("thermal_zone0/temp", "81000\n")
        #expect(alarms.update(try sensors.readZones()) == [.thermalCleared(zone: "thermal_zone0", celsius: 81)])
        #expect(!alarms.isDegraded)
    }

    @Test func aConfiguredThresholdOverridesTheTripPoints() throws {
        let tree = Self.makeTree()
        defer { tree.remove() }
        var alarms = ThermalAlarms(thresholdCelsius: 40, defaultHysteresisCelsius: 1)
        let events = alarms.update(try SysfsThermal(root: tree.path).readZones())
        #expect(events == [.thermalAlarm(zone: "thermal_zone0", celsius: 45, limit: 40)])
    }

    @Test func anUnreadableTempFileIsReportedWithItsReasonNeverDropped() throws {
        let tree = Self.makeTree()
        defer { tree.remove() }
        let sensors = SysfsThermal(root: tree.path)
        var alarms = ThermalAlarms()

        // Root reads any file regardless of permissions, so make `temp` something unreadable.
        tree.removeItem("thermal_zone0/temp")
        tree.makeDirectory("thermal_zone0/temp")
        tree.write("thermal_zone2/temp", "n/a\n")
        tree.removeItem("thermal_zone10/temp")
        let zones = try sensors.readZones()
        #expect(zones.count == 3)
        #expect(zones[0].celsius == nil)
        #expect(zones[0].problem == "cannot read \(tree.path)/thermal_zone0/temp: Is a directory")
        #expect(zones[0].type == "cpu-thermal", "what can be read still is")
        #expect(zones[1].problem == "\(tree.path)/thermal_zone2/temp: not a temperature: 'n/a'")
        #expect(zones[2].problem == "cannot read \(tree.path)/thermal_zone10/temp: No such file or directory")

        let events = alarms.update(zones)
        #expect(events.map(\.name) == ["thermal-unreadable", "thermal-unreadable", "thermal-unreadable"])
        #expect(alarms.isDegraded)
        #expect(alarms.update(try sensors.readZones()).isEmpty, "the same reason is reported once")

        tree.removeItem("thermal_zone0/temp")
        tree.write("thermal_zone0/temp", "90000\n")
        #expect(alarms.update(try sensors.readZones()) == [
            .thermalReadable(zone: "thermal_zone0"),
            .thermalAlarm(zone: "thermal_zone0", celsius: 90, limit: 85),
        ])
    }

    @Test func aMissingRootThrowsUnavailable() {
        #expect(throws: HALError.self) { try SysfsThermal(root: "/nonexistent/qlink/thermal").readZones() }
    }

    @Test func theMonitorReportsAlarmAndClearAndAMissingRootAsDegraded() async throws {
        let tree = Self.makeTree()
        defer { tree.remove() }
        let log = BoardEventLog()
        let monitor = Task { await monitorThermal(SysfsThermal(root: tree.path), every: .milliseconds(10), events: log.sink) }
        defer { monitor.cancel() }
        tree.write("thermal_zone0/temp", "95000\n")
        #expect(await log.wait { $0.contains(.thermalAlarm(zone: "thermal_zone0", celsius: 95, limit: 85)) })
        tree.write("thermal_zone0/temp", "50000\n")
        #expect(await log.wait { $0.contains(.thermalCleared(zone: "thermal_zone0", celsius: 50)) })
        monitor.cancel()
        await monitor.value

        let gone = BoardEventLog()
        let blind = Task { await monitorThermal(SysfsThermal(root: "/nonexistent/qlink"), every: .milliseconds(10), device: "thermal", events: gone.sink) }
        #expect(await gone.wait { !$0.isEmpty })
        try await Task.sleep(for: .milliseconds(50))
        blind.cancel()
        await blind.value
        #expect(gone.names == ["degraded"], "reported once, not every poll")
    }
}
