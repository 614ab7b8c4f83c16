import Narration
import Testing

@Suite struct ConstraintTests {
    let c = FactConstraint(facts: Facts(event: Fixtures.event(.spike), catalog: Fixtures.catalog))

    @Test func allowsFactsAsTheyAreBeingWritten() {
        let text = "P-101 motor current on Pump P-101 spiked to 48.2 A at 03:12:05 UTC, 18.1 A above 30.1 A."
        for end in text.indices {
            #expect(c.allows(String(text[...end])), "prefix: \(text[...end])")
        }
    }

    @Test(arguments: ["spiked to 52", "spiked to 48.3", "spiked to 48.2 bar", "spiked to 48.2A", "on Pump P-102",
                      "on C-7", "rose to 48.2 A = bad", "fell by 12.0 A"])
    func refusesInventedNumbersNamesAndUnits(text: String) {
        #expect(!c.allows("P-101 motor current " + text))
    }
}

@Suite struct PrefixTests {
    let v = Verifier(facts: Facts(event: Fixtures.event(.spike), catalog: Fixtures.catalog), catalog: Fixtures.catalog)

    @Test(arguments: VerifierTests.good)
    func everyPrefixOfAcceptedTextIsAllowed(text: String) {
        for end in text.indices {
            let allowed = v.allowsPrefix(String(text[...end]))
            #expect(allowed, "prefix: \(text[...end])")
        }
        let withStop = v.allowsPrefix(text + "\nanything after the stop")
        #expect(withStop)
    }

    @Test(arguments: [
        "P-101 motor current fell",                         // wrong direction, as soon as the word is there
        "P-101 motor current rose to 12.0",                 // a number of another sensor
        "P-101 motor current rose to 48.2 A while P-101 flow rose",
        "P-101 motor current rose to 48.2 A while P-101 flow fell by 18",
        "P-101 motor current rose to 48.2 A. It rose to 48.2 A. More",
        "P-101 motor current rose to 48.2 A, 18.1 A above 30.1 A, rose to 48.2 A, 18.1 A above",
        "P-101 motor current rose to 48.2 A. Shut",
        "P-101 motor current rose to 48.2 A on Pump P-102 ",
    ])
    func badContinuationsAreRefusedEarly(text: String) {
        let allowed = v.allowsPrefix(text)
        #expect(!allowed)
    }
}

@Suite struct EndingTests {
    let v = Verifier(facts: Facts(event: Fixtures.event(.spike), catalog: Fixtures.catalog), catalog: Fixtures.catalog)

    @Test func aDecimalPointMustLeadToAFact() {
        #expect(v.allowsPrefix("P-101 motor current rose to 48."))     // 48.2 follows
        #expect(!v.allowsPrefix("P-101 motor current rose to 4."))     // no fact of the current is 4.x
        #expect(v.allowsPrefix("P-101 motor current rose to 48.2 A."))  // a sentence end
    }
}
