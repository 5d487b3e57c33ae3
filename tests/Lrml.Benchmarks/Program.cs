using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// Examples:
//   dotnet run -c Release --project tests/Lrml.Benchmarks -- --filter '*TrainStep*'
//   dotnet run -c Release --project tests/Lrml.Benchmarks -- --filter '*' --job short
// Artifacts (reports) go next to the binaries (bin/…/BenchmarkDotNet.Artifacts), never into the repository.
var config = DefaultConfig.Instance.WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"));
BenchmarkSwitcher.FromAssembly(typeof(Lrml.Benchmarks.FusedTrainStepBenchmarks).Assembly).Run(args, config);
