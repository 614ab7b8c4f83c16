import ArgumentParser

/// Options shared by the commands that need the plant's sensor catalog.
struct CatalogOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The sensor catalog (YAML).", valueName: "file"))
    var catalog: String = "sensors/plant.yaml"
}
