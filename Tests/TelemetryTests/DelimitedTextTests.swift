import Testing
import Telemetry

@Suite("Delimited text: one splitter for recordings and tables")
struct DelimitedTextTests {
    @Test(arguments: [
        ("a,b,,c", ",", ["a", "b", "", "c"]),
        ("\"x,y\",2,\"say \"\"hi\"\"\"", ",", ["x,y", "2", "say \"hi\""]),
        ("\"temp; °C\";21,5;", ";", ["temp; °C", "21,5", ""]),
        ("t\t\"a\tb\"", "\t", ["t", "a\tb"]),
    ])
    func quotedFieldsSplitTheSameAsTextAndAsBytes(line: String, separator: Character, expected: [String]) {
        #expect(DelimitedText.fields(Substring(line), separator: separator).map(String.init) == expected)
        #expect(DelimitedText.fields(ArraySlice(line.utf8), separator: separator.asciiValue!) == expected)
    }

    @Test func theSeparatorIsTheMostFrequentOutsideQuotes() {
        #expect(DelimitedText.detectSeparator(header: "\"a,b\";c;d") == ";")
        #expect(DelimitedText.detectSeparator(header: "time") == ",")
        #expect(DelimitedText.lines("a\r\nb\nc\n") == ["a", "b", "c"])
    }
}
