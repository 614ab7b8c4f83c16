// Simulation: the demo plant as recordings, for the demo, the tests and `vigil simulate`.
//
// Files:
//   PlantSimulator.swift  drives a catalog's sensors (levels, noise, demand swings) and injects faults
//   Scenario.swift        the faults the simulator can inject, each one label of the recording
//   RandomSource.swift    a seeded SplitMix64: the same scenario gives the same readings on every machine
