import Agent
import ArgumentParser
import Foundation
import Logging
import ModelBundle

/// Where the bundle commands find the store and the trusted keys: the agent's configuration
/// (`narration.bundles`, `narration.trusted_keys`), or both given on the command line.
struct BundleStoreOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("The agent's configuration: its narration.bundles and narration.trusted_keys (default /etc/vigil/vigil.yaml when --store is not given).", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The bundle store folder (instead of the configuration's).", valueName: "dir"))
    var store: String?

    @Option(name: .customLong("trusted-key"), help: ArgumentHelp("A trusted public key: `ed25519:BASE64` or a .pub file (repeatable; instead of the configuration's).", valueName: "key"))
    var trustedKeys: [String] = []

    /// The store and keys to use, or a clear error.
    func resolve(needKeys: Bool = true, needStore: Bool = true) throws -> (store: BundleStore, keys: [BundlePublicKey]) {
        var storePath = store
        var keys: [BundlePublicKey] = []
        for text in trustedKeys {
            do {
                keys.append(try BundlePublicKey.read(text))
            } catch let error as BundleError {
                throw ValidationError("--trusted-key \(text): \(error.message)")
            }
        }
        let file = config ?? (store == nil ? "/etc/vigil/vigil.yaml" : nil)
        if let file, (storePath == nil && needStore) || (keys.isEmpty && needKeys) {
            let configuration: AgentConfiguration
            do { configuration = try AgentConfiguration.load(file: file) } catch {
                throw ValidationError("\(error)\n(give --store and --trusted-key to work without a configuration)")
            }
            guard let bundles = configuration.narrationBundles else {
                throw ValidationError("\(file) sets no narration.trusted_keys: the agent does not use bundles (give --store and --trusted-key)")
            }
            if storePath == nil { storePath = bundles.store }
            if keys.isEmpty { keys = bundles.trustedKeys }
        }
        if needKeys && keys.isEmpty { throw ValidationError("no trusted key: give --trusted-key or --config") }
        guard let storePath else {
            if needStore { throw ValidationError("give --config FILE or --store DIR") }
            return (BundleStore(root: ""), keys)
        }
        return (BundleStore(root: storePath), keys)
    }
}

/// Runs `body`; a `BundleError` is printed as `vigil model <command>: …` and exits 1.
func reportingBundleErrors<T>(_ command: String, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as BundleError {
        printError("vigil model \(command): \(error)")
        throw ExitCode.failure
    }
}

func reportingBundleErrors<T>(_ command: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as BundleError {
        printError("vigil model \(command): \(error)")
        throw ExitCode.failure
    }
}

/// `vigil model pack`: makes an unsigned bundle folder from a model, an optional adapter and the
/// self-test files.
struct ModelPackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Make a model bundle folder: the files, and a manifest with their sizes and SHA-256.",
        discussion: """
            The files are hard-linked into OUTDIR when they are on the same file system, copied \
            otherwise. The manifest is written unsigned: sign it with `vigil model sign`. The \
            self-test events (JSON lines, `vigil collect-events` or `vigil explain --export-events`) \
            and their catalog are what `vigil model install` narrates before switching to the bundle.

            Example:
              vigil model pack --name smollm2-narration --version 1.1.0 \\
                --model models/SmolLM2-135M-Instruct.Q4_1.gguf --adapter models/vigil-narration-lora.gguf \\
                --self-test-events events.jsonl --self-test-catalog plant.yaml --out bundles/smollm2-narration-1.1.0
            """
    )

    @Option(help: "The bundle's name (a-z 0-9 . _ -).") var name: String
    @Option(help: "Its version, MAJOR.MINOR.PATCH.") var version: String
    @Option(help: ArgumentHelp("The base GGUF model.", valueName: "file")) var model: String
    @Option(help: ArgumentHelp("A narration LoRA adapter (GGUF) applied on the model.", valueName: "file")) var adapter: String?
    @Option(name: .customLong("self-test-events"), help: ArgumentHelp("Recorded events the self-test narrates (JSON lines).", valueName: "file"))
    var selfTestEvents: String
    @Option(name: .customLong("self-test-catalog"), help: ArgumentHelp("The catalog those events name.", valueName: "file"))
    var selfTestCatalog: String
    @Option(name: .customLong("min-model-share"), help: "The share of self-test events that must get verified model text (0 to 1).")
    var minModelShare: Double = 0.5
    @Option(name: .customLong("min-vigil-version"), help: "The oldest vigil that may run the bundle.")
    var minVigilVersion: String = VigilVersion.string
    @Option(help: ArgumentHelp("After this time (RFC 3339) the signature no longer counts.", valueName: "time")) var expires: String?
    @Option(help: "A line saying what the bundle is.") var description: String?
    @Option(help: ArgumentHelp("The bundle folder to write.", valueName: "dir")) var out: String

    func run() throws {
        var files: [(role: BundleManifest.Role, source: String)] = [(.model, model)]
        if let adapter { files.append((.adapter, adapter)) }
        files += [(.selfTestEvents, selfTestEvents), (.selfTestCatalog, selfTestCatalog)]
        try reportingBundleErrors("pack") {
            let manifest = try BundleWriter.pack(into: out, name: name, version: version, minVigilVersion: minVigilVersion,
                                                 files: files, minModelShare: minModelShare, description: description,
                                                 expiresAt: expires)
            print("packed \(manifest.id) in \(out) (\(manifest.files.count) files); sign it: vigil model sign --key KEY.pem \(out)")
        }
    }
}

/// `vigil model sign`: signs a bundle's manifest with an Ed25519 private key.
struct ModelSignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign a bundle's manifest (writes manifest.sig).",
        discussion: """
            KEY is a PEM Ed25519 private key (deploy/bundle-keygen.sh makes one, or \
            `openssl genpkey -algorithm ed25519`). Keep it off the gateways and out of the repository; \
            gateways trust its public half through narration.trusted_keys.
            """
    )

    @Option(help: ArgumentHelp("The PEM private key.", valueName: "file")) var key: String
    @Argument(help: ArgumentHelp("The bundle folder.", valueName: "dir")) var bundle: String

    func run() throws {
        try reportingBundleErrors("sign") {
            guard let data = FileManager.default.contents(atPath: key), data.count <= 8192 else {
                throw BundleError(.unreadable, "cannot read the private key \(key)")
            }
            let signingKey = try BundleSigningKey(pem: String(decoding: data, as: UTF8.self))
            let signature = try BundleWriter.sign(directory: bundle, key: signingKey)
            print("signed \(bundle) with key \(signature.keyID) (public key \(signingKey.publicKey.text))")
        }
    }
}

/// `vigil model install`: copies a verified bundle into the store, runs its self-test and makes it current.
struct ModelInstallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install a signed bundle; switch to it when its self-test passes.",
        discussion: """
            Checks the bundle's signature against the trusted keys and every file's SHA-256, copies \
            it into the store (the bundle it replaces stays as `previous`), then narrates its \
            self-test events with its model and with the running bundle's model. It becomes current \
            only when its model text passes the verifier at least as often as the running one's and \
            at least as often as its manifest asks; otherwise it stays installed but not current \
            and the command exits 1. Restart the agent to load the new bundle \
            (systemctl restart vigil); `vigil model rollback` returns to the previous one.
            """
    )

    @OptionGroup var storeOptions: BundleStoreOptions
    @Argument(help: ArgumentHelp("The bundle folder to install.", valueName: "dir")) var bundle: String
    @Flag(name: .customLong("skip-self-test"), help: "Switch without the self-test (the signature and hashes are still checked).")
    var skipSelfTest = false
    @Flag(name: .customLong("no-activate"), help: "Install only; do not make it current.")
    var noActivate = false
    @Option(help: "CPU threads for the self-test's model.") var threads: Int = 2

    func run() async throws {
        let (store, keys) = try storeOptions.resolve()
        try await reportingBundleErrors("install") {
            let o = try await BundleInstaller.install(directory: bundle, store: store, trustedKeys: keys, activate: !noActivate,
                                                      selfTest: !skipSelfTest, threads: threads,
                                                      logger: Logger(label: "vigil.model"))
            let id = o.bundle.manifest.id
            print("installed \(id) in \(o.bundle.directory): signed by key \(o.bundle.key.id), \(o.bundle.manifest.files.count) files checked")
            if let t = o.selfTest { print("self-test \(t)") }
            if let r = o.running { print("running   \(r)") }
            if let failure = o.failure {
                printError("vigil model install: \(id) failed its self-test: \(failure); it is installed but not current"
                    + (o.before.map { " (\($0) stays current)" } ?? ""))
                throw ExitCode.failure
            }
            guard o.activated else { return }
            print("current   \(id)" + (o.before.map { $0 == id ? "" : " (previous: \($0))" } ?? ""))
            print("Restart the agent to load it: systemctl restart vigil")
        }
    }
}

/// `vigil model list`: the installed bundles, which is current, and whether each verifies now.
struct ModelListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the installed bundles: current, previous, and whether each verifies.")

    @OptionGroup var storeOptions: BundleStoreOptions

    func run() throws {
        let (store, keys) = try storeOptions.resolve()
        let ids = store.installed()
        if ids.isEmpty {
            print("no bundles in \(store.root)")
            return
        }
        let cache = store.hashCache
        for id in ids {
            let mark = id == store.current ? "current " : id == store.previous ? "previous" : "        "
            let state: String
            do {
                let b = try BundleVerifier.verify(directory: store.directory(id), trustedKeys: keys, vigilVersion: VigilVersion.string, cache: cache)
                state = "ok (key \(b.key.id)\(b.manifest.file(.adapter) == nil ? "" : ", with adapter")\(b.manifest.createdAt.map { ", made \($0)" } ?? ""))"
            } catch let error as BundleError {
                state = "REFUSED: \(error)"
            }
            print("\(mark)  \(id)  \(state)")
        }
    }
}

/// `vigil model rollback`: makes the previous bundle current again.
struct ModelRollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make the previous bundle current again (it must still verify).")

    @OptionGroup var storeOptions: BundleStoreOptions

    func run() throws {
        let (store, keys) = try storeOptions.resolve()
        try reportingBundleErrors("rollback") {
            guard let back = store.previous else { throw BundleError(.notInstalled, "no previous bundle in \(store.root)") }
            _ = try BundleVerifier.verify(directory: store.directory(back), trustedKeys: keys, vigilVersion: VigilVersion.string,
                                          cache: store.hashCache)
            let (from, to) = try store.rollback()
            print("current   \(to)" + (from.map { " (was \($0), now previous)" } ?? ""))
            print("Restart the agent to load it: systemctl restart vigil")
        }
    }
}

/// `vigil bench bundle`: what checking the current bundle adds to the agent's start.
struct BenchBundleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Time the start-up check of a model bundle: signature and hashes, with and without the hash cache.",
        discussion: """
            Verifies the store's current bundle (or DIR) --runs times each way and prints the medians: \
            `hashing` checks the signature and hashes every file (the first start after an install, \
            or a changed file); `cached` is what every later start does (the signature, and the \
            hashes from the store's cache while the files' identities match). The files are read \
            from the page cache after the first run, as on a gateway that just installed the bundle.
            """
    )

    @OptionGroup var storeOptions: BundleStoreOptions
    @Argument(help: ArgumentHelp("A bundle folder (default: the store's current bundle).", valueName: "dir")) var bundle: String?
    @Option(help: "Verifications of each kind.") var runs: Int = 7

    func validate() throws {
        guard (1...1000).contains(runs) else { throw ValidationError("--runs must be 1 to 1000") }
    }

    func run() throws {
        let (store, keys) = try storeOptions.resolve()
        guard let dir = bundle ?? store.current.map(store.directory) else {
            throw ValidationError("no current bundle in \(store.root); give a bundle folder")
        }
        func median(_ body: () throws -> VerifiedBundle) throws -> (ms: Double, hashed: Int) {
            var times: [Double] = []
            var hashed = 0
            for _ in 0..<runs {
                // Reading the hash cache's file is part of the check.
                let started = ContinuousClock.now
                let b = try body()
                let elapsed = ContinuousClock.now - started
                times.append(elapsed / .milliseconds(1))
                hashed = b.hashedFiles
            }
            return (times.sorted()[times.count / 2], hashed)
        }
        do {
            let size = try BundleVerifier.verify(directory: dir, trustedKeys: keys, vigilVersion: VigilVersion.string)
                .manifest.files.reduce(Int64(0)) { $0 + $1.size }
            let hashing = try median {
                try BundleVerifier.verify(directory: dir, trustedKeys: keys, vigilVersion: VigilVersion.string, cache: HashCache(path: nil))
            }
            let cachePath = NSTemporaryDirectory() + "/vigil-bench-hash-cache-\(getpid()).json"
            defer { try? FileManager.default.removeItem(atPath: cachePath) }
            _ = try BundleVerifier.verify(directory: dir, trustedKeys: keys, vigilVersion: VigilVersion.string, cache: HashCache(path: cachePath))
            let cached = try median {
                try BundleVerifier.verify(directory: dir, trustedKeys: keys, vigilVersion: VigilVersion.string, cache: HashCache(path: cachePath))
            }
            print("bundle    \(dir) (\(formatBytes(Int(size))))")
            print(String(format: "hashing   median %.2f ms over %d runs (%d files hashed)", hashing.ms, runs, hashing.hashed))
            print(String(format: "cached    median %.2f ms over %d runs (%d files hashed; the signature checked every time)", cached.ms, runs, cached.hashed))
        } catch let error as BundleError {
            printError("vigil bench bundle: \(error)")
            throw ExitCode.failure
        }
    }
}
