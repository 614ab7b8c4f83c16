import Foundation
import ModelBundle
import Telemetry

/// `narration.trusted_keys` and `narration.bundles`: the agent narrates only with a signed model
/// bundle (deploy/DEPLOY.md, "Model bundles"). With `trusted_keys` the model comes from the bundle
/// store's current bundle, checked against these keys at every start; `model`, `model_sha256`,
/// `adapter` and `adapter_sha256` are then refused, because the bundle names its own files.
public struct NarrationBundleSettings: Sendable {
    /// The bundle store (default `<state_dir>/models/bundles`).
    public var store: String
    /// The Ed25519 public keys a bundle may be signed with.
    public var trustedKeys: [BundlePublicKey]

    static let keys: Set<String> = ["trusted_keys", "bundles"]

    /// From the `narration` mapping; nil without `trusted_keys`. Each key is `ed25519:BASE64` or the
    /// path of a `.pub` file holding one (relative to the configuration's folder).
    static func decode(_ narration: ConfigNode, stateDirectory: String, resolve: (String) -> String) throws -> NarrationBundleSettings? {
        guard let keysNode = narration["trusted_keys"] else {
            if let store = narration["bundles"] {
                throw store.error("`bundles` needs `trusted_keys`: the agent loads a bundle only when it verifies against a trusted key")
            }
            return nil
        }
        for key in ["model", "model_sha256", "adapter", "adapter_sha256"] {
            if let node = narration[key] {
                throw node.error("`\(key)` cannot be used with `trusted_keys`: the signed bundle names the model and adapter files (remove `\(key)`)")
            }
        }
        let entries = try keysNode.list()
        guard !entries.isEmpty else {
            throw keysNode.error("expected at least one public key (`ed25519:BASE64` or the path of a .pub file)")
        }
        guard entries.count <= 32 else { throw keysNode.error("expected at most 32 trusted keys") }
        var keys: [BundlePublicKey] = []
        for entry in entries {
            let text = try entry.string()
            do {
                keys.append(try BundlePublicKey.read(text, resolve: resolve))
            } catch let error as BundleError {
                throw entry.error(error.message)
            }
        }
        let store = try narration["bundles"].map { resolve(try $0.string()) } ?? stateDirectory + "/models/bundles"
        return NarrationBundleSettings(store: store, trustedKeys: keys)
    }
}
