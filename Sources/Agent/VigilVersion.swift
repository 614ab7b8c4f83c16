/// Vigil's version, shown in status messages and `vigil --version`.
public enum VigilVersion {
    public static let string = "0.1.0"
}
