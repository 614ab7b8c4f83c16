// ModelBundle: the narration model as a governed artefact: signed bundles, their store, their checks.
//
// Files:
//   BundleManifest.swift  manifest.json (schema vigil.model-bundle/1): files with roles, sizes and SHA-256,
//                         parsed strictly and within bounds
//   BundleKeys.swift      Ed25519 keys a gateway trusts (`ed25519:BASE64` or a .pub file)
//   BundleVerifier.swift  a bundle checked: signature, trusted key, every file's size and hash; BundleWriter
//   BundleStore.swift     the installed bundles with `current` and `previous`: add, activate, roll back
//   FileDigest.swift      SHA-256 of files, cached by their identity on disk (dev, inode, size, times)
//   FileSystem.swift      the module's system calls, in one place
//   BundleError.swift     why a bundle was refused, as a stable reason word
//
// Semantics callers rely on:
//   - nothing is loaded from a bundle that did not verify; every refusal is a BundleError, never a crash.
//   - switching `current` is atomic (rename); the bundle it replaces stays as `previous`.
