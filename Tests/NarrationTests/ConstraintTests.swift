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
