import Detection
import Narration
import Telemetry
import Testing

@Suite struct VerifierTests {
    let spike = Facts(event: Fixtures.event(.spike), catalog: Fixtures.catalog)
    var verifier: Verifier { Verifier(facts: spike, catalog: Fixtures.catalog) }

    static let good = [
        "P-101 motor current on Pump P-101 spiked to 48.2 A at 03:12:05 UTC, 18.1 A above its baseline of 30.1 A.",
        "P-101 motor current rose to 48.2 A, up 18.1 A from 30.1 A. At the same time, P-101 flow fell by 12.0 m3/h.",
        "P-101 motor current on Pump P-101 jumped 18 A above its usual 30.1 A while the flow dropped by 12 m3/h.",
        "The motor current of Pump P-101 spiked to 48.2 A; P-101 discharge pressure rose by 0.43 bar.",
    ]

    @Test(arguments: good)
    func acceptsFaithfulText(text: String) {
        let verdict = verifier.verify(text)
        #expect(verdict.accepted, "\(verdict.problems)")
        #expect(verdict.namesSensor)
        #expect(verdict.rightDirection)
    }

    /// Deliberately wrong model text, one kind of fault each: none may reach the operator.
    static let bad: [(text: String, problem: String)] = [
        ("P-101 motor current on Pump P-101 spiked to 52.7 A, above its baseline of 30.1 A.", "not a fact"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 bar, above its baseline of 30.1 A.", "wrong unit"),
        ("P-101 motor current on Pump P-101 spiked to 48.2, above its baseline of 30.1 A.", "no unit"),
        ("P-101 motor current spiked to 48.2 A while P-101 flow fell by 18.1 A.", "belongs to"),
        ("P-101 motor current spiked to 12.0 m3/h.", "belongs to"),
        ("P-101 motor current on Pump P-102 spiked to 48.2 A.", "not part of this event"),
        ("P-101 motor current on Compressor C-7 spiked to 48.2 A.", "names equipment"),
        ("P-101 motor current spiked to 48.2 A and P-102 flow fell by 12.0 m3/h.", "not part of this event"),
        ("P-101 motor current on Pump P-101 fell to 48.2 A, below its baseline of 30.1 A.", "went down"),
        ("P-101 motor current rose to 48.2 A and P-101 flow rose by 12.0 m3/h.", "went up"),
        ("P-101 motor current rose to 48.2 A, 18.1 A above 30.1 A, rose to 48.2 A, 18.1 A above 30.1 A.", "repeats"),
        ("P-101 motor current rose to 48.2 A. Shut down the pump immediately.", "instruction"),
        ("P-101 motor current rose to 48.2 A; you should check the motor.", "instruction"),
        ("P-101 motor current rose to 48.2 A, probably because of a cracked impeller.", "speculation"),
        ("P-101 motor current rose to 48.2 A, which suggests bearing failure.", "fault"),
        ("P-101 motor current rose to 48.2 A. P-101 flow fell by 12.0 m3/h. P-101 discharge pressure rose by 0.43 bar.",
         "more than 2 sentences"),
        ("P-101 motor current rose to 48.2 A at 04:00:00 UTC.", "no unit"),
        ("Pump P-101 spiked to 48.2 A.", "does not name"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A", "full stop"),
        ("P-101 motor current spiked to 48.2 A <b>now</b>.", "unexpected character"),
        ("P-101 motor current spiked to 48.2 A " + String(repeating: "and kept going ", count: 30) + ".", "too long"),
        ("P-101 motor current rose to 48.2 A and P-101 vibration rose by 0.43 mm/s.", "not part of this event"),
        ("P-101 motor current rose to 48.2 A, above its high limit of 30.1 A.", "said as the limit"),
        ("P-101 motor current rose to 48.2 A and has blown a seal.", "outside the alert vocabulary"),
        ("P-101 motor current did not fall below 48.2 A.", "outside the alert vocabulary"),
        ("P-101 motor current is off at 48.2 A.", "outside the alert vocabulary"),
        ("P-101 motor current rose to 18.1 A.", "said as the"),
        ("P-101 motor current rose by 48.2 A.", "said as the"),
        ("P-101 motor current rose 40 s above its baseline.", "belongs to the duration"),
        ("P-101 motor current rose to 48.2 A, 18.1 A, 30.1 A.", "lists numbers"),
        // Cut off mid-sentence and closed with a full stop.
        ("P-101 motor current on Pump P-101 spiked to 48.2 A and P-101 flow dropped by.", "unfinished (\"by.\")"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A, 18.1 A above its.", "unfinished (\"its.\")"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A at the.", "unfinished (\"the.\")"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A,.", "unfinished (\",.\")"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A. At the same time, P-101 flow.", "nothing said of it"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A. At the same time.", "says nothing"),
        // The event's sensor named, then left for another one.
        ("P-101 motor current on Pump P-101 flow down 12.0 m3/h.", "before saying what P-101 motor current did"),
        ("P-101 motor current on Pump P-101 and P-101 flow fell by 12.0 m3/h.", "before saying what"),
        // Said of the sensor without a number, a bare number, the time as a value.
        ("P-101 motor current on Pump P-101 has spiked.", "gives no number for P-101 motor current"),
        ("P-101 motor current on Pump P-101 rose to 48.2 A at 03:12:05 UTC, 18.1 A.", "leaves the number 18.1 unexplained"),
        ("P-101 motor current rose to 48.2 A and P-101 flow fell to 03:12:05 UTC.", "says the time as a value"),
        ("P-101 motor current on Pump P-101 rose by 18.1 A, 03:12:05 UTC.", "leaves the time unexplained"),
        // Wrong stage or fault wording.
        ("P-101 motor current on Pump P-101 broke down to 48.2 A.", "names a fault (\"broke down\")"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A and is back to normal.", "ongoing event as over"),
        ("P-101 motor current on Pump P-101 spiked to 48.2 A and has recovered.", "ongoing event as over"),
    ]

    @Test(arguments: bad)
    func rejectsWrongText(text: String, problem: String) {
        let verdict = verifier.verify(text)
        #expect(!verdict.accepted, "accepted: \(text)")
        #expect(verdict.problems.contains { $0.contains(problem) }, "\(text) → \(verdict.problems)")
    }

    @Test func listedCausesAreAllowedAndOthersAreNot() {
        let drift = Facts(event: Fixtures.typical(.drift), catalog: Fixtures.catalog)
        let v = Verifier(facts: drift, catalog: Fixtures.catalog)
        #expect(drift.causes == ["bearing wear", "lubrication loss"])
        let ok = v.verify("P-101 motor current on Pump P-101 has drifted up to 36.3 A, possibly from bearing wear.")
        #expect(ok.accepted, "\(ok.problems)")
        let bad = v.verify("P-101 motor current on Pump P-101 has drifted up to 36.3 A, possibly from a winding fault.")
        #expect(!bad.accepted)
        let noCause = v.verify("P-101 motor current on Pump P-101 has drifted up to 36.3 A, which may be serious.")
        #expect(noCause.problems.contains { $0.contains("speculation") })
        // A listed cause stated as a fact, or a hedge about something that is not a cause.
        let asFact = v.verify("P-101 motor current on Pump P-101 has drifted up to 36.3 A and has bearing wear.")
        #expect(asFact.problems.contains { $0.contains("states a cause as a fact") }, "\(asFact.problems)")
        let hedgedFact = v.verify("P-101 motor current on Pump P-101 has drifted up to 36.3 A; possibly a flow down 12.0 m3/h, bearing wear.")
        #expect(hedgedFact.problems.contains { $0.contains("hedges something that is not a listed cause") },
                "\(hedgedFact.problems)")
        let two = v.verify("P-101 motor current on Pump P-101 has drifted up to 36.3 A, possibly bearing wear or lubrication loss.")
        #expect(two.accepted, "\(two.problems)")
    }

    @Test func directionlessKindsRejectDirectionWords() {
        let stuck = Facts(event: Fixtures.typical(.stuck), catalog: Fixtures.catalog)
        let v = Verifier(facts: stuck, catalog: Fixtures.catalog)
        #expect(v.verify("P-101 motor current on Pump P-101 has been stuck at 30.1 A for 10 min.").accepted)
        #expect(!v.verify("P-101 motor current on Pump P-101 rose and stuck at 30.1 A for 10 min.").accepted)
    }

    @Test func aLimitIsOnlyALimitWhereTheWordsSaySo() {
        let out = Facts(event: Fixtures.typical(.outOfRange), catalog: Fixtures.catalog)
        let v = Verifier(facts: out, catalog: Fixtures.catalog)
        let good = v.verify("P-101 motor current on Pump P-101 reached 63.2 A at 03:12:05 UTC, above its high limit of 60.0 A.")
        #expect(good.accepted, "\(good.problems)")
        // The limit said as the value it reached.
        let bad = v.verify("P-101 motor current on Pump P-101 reached 60.0 A, up 33.1 A.")
        #expect(bad.problems.contains { $0.contains("60.0 A is said as the") }, "\(bad.problems)")
    }

    @Test func resolvedEventsMustBeSaidToBeOver() {
        let resolved = Facts(event: Fixtures.typical(.spike, stage: .resolved), catalog: Fixtures.catalog)
        let v = Verifier(facts: resolved, catalog: Fixtures.catalog)
        let good = v.verify("P-101 motor current on Pump P-101 is back to normal after 40 s; it had spiked to 48.2 A, "
            + "18.1 A above its baseline of 30.1 A.")
        #expect(good.accepted, "\(good.problems)")
        let onset = v.verify("P-101 motor current on Pump P-101 spiked to 48.2 A, 18.1 A above its baseline of 30.1 A.")
        #expect(onset.problems.contains { $0.contains("does not say the event is over") }, "\(onset.problems)")
        let ongoing = v.verify("P-101 motor current on Pump P-101 is back to normal but still reads 48.2 A.")
        #expect(ongoing.problems.contains { $0.contains("resolved event as ongoing") }, "\(ongoing.problems)")
        let breakdown = Verifier(facts: Facts(event: Fixtures.typical(.correlationBreak, stage: .resolved),
                                              catalog: Fixtures.catalog), catalog: Fixtures.catalog)
            .verify("P-101 motor current on Pump P-101 broke down and is back to normal after 40 s.")
        #expect(breakdown.problems.contains { $0.contains("broke down") }, "\(breakdown.problems)")
    }

    @Test func unfinishedTextIsRefusedWhileItIsWritten() {
        // The steering asks about prefixes: one that already holds a cut-off sentence cannot go on.
        #expect(verifier.allowsPrefix("P-101 motor current on Pump P-101 spiked to 48.2 A"))
        #expect(!verifier.allowsPrefix("P-101 motor current on Pump P-101 spiked to 48.2 A at the. At"))
        #expect(!verifier.allowsPrefix("P-101 motor current on Pump P-101 broke down"))
    }

    @Test func numbersWithinRoundingAreAccepted() {
        // 48.24 is written 48.2 (one decimal) or 48 (one fewer), not 48.24 or 50.
        #expect(verifier.verify("P-101 motor current spiked to 48 A.").accepted)
        #expect(!verifier.verify("P-101 motor current spiked to 50 A.").accepted)
        #expect(!verifier.verify("P-101 motor current spiked to 48.24 A.").accepted)
    }
}
