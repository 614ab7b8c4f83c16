import Detection
import Testing

@Suite("NAB scoring")
struct NABScoreTests {
    let windows = [100...119, 300...319]

    func series(detections at: [Int]) -> NABSeries {
        var d = [Bool](repeating: false, count: 500)
        for i in at { d[i] = true }
        return NABSeries(detections: d, windows: windows)
    }

    @Test("the null detector scores 0 and detections at window starts about 100")
    func anchors() {
        for profile in NABProfile.all {
            #expect(abs(NABScore.score([series(detections: [])], profile: profile)) < 1e-9)
            let early = NABScore.score([series(detections: [100, 300])], profile: profile)
            #expect(early > 99 && early <= 100)
        }
    }

    @Test("later detections and false positives score less")
    func ordering() {
        let s = NABProfile.standard
        let early = NABScore.score([series(detections: [100, 300])], profile: s)
        let late = NABScore.score([series(detections: [115, 315])], profile: s)
        let withFP = NABScore.score([series(detections: [100, 300, 50])], profile: s)
        let fpJustAfter = NABScore.score([series(detections: [100, 300, 121])], profile: s)
        #expect(late < early)
        #expect(withFP < early)
        // A false positive right after a window costs less than one far from any window.
        #expect(fpJustAfter > withFP)
        // Only the first detection in a window counts.
        #expect(NABScore.score([series(detections: [100, 101, 102, 300])], profile: s) == early)
        // Low FP weighs the same false positive more.
        #expect(NABScore.score([series(detections: [100, 300, 50])], profile: .lowFP) < withFP)
    }

    @Test("the tsad variant agrees at the anchors")
    func tsad() {
        #expect(abs(NABScore.tsadScore([series(detections: [])], profile: .standard)) < 1e-9)
        #expect(NABScore.tsadScore([series(detections: [100, 300])], profile: .standard) > 99)
    }
}
