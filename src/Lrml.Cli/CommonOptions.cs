using System.CommandLine;
using Lrml.Data;
using Lrml.Experiments;

namespace Lrml.Cli;

/// <summary>Options shared by several commands.</summary>
internal static class CommonOptions
{
    public static readonly Option<string?> DataDir = new("--data-dir")
    {
        Description = $"Data root holding ml-100k/, ml-1m/, … (default: ${DataDirectory.EnvironmentVariable}, else ./data in the repository)",
        Recursive = true,
    };

    public static readonly Option<string?> Results = new("--results")
    {
        Description = "Results root for runs, tables, plots and the frozen split cache (default: ./results in the repository)",
        Recursive = true,
    };

    public static readonly Option<int> Threads = new("--threads")
    {
        Description = "Compute threads (TorchSharp and the kit's kernels share this budget; default: the machine's cores). " +
                      "Part of a run's identity: torch-engine numbers can differ with the thread count, the fused engine's do not",
        DefaultValueFactory = _ => DefaultThreads(Environment.ProcessorCount),
        Recursive = true,
    };

    public static readonly Option<bool> KeepCheckpoints = new("--keep-checkpoints")
    {
        Description = "Keep each finished run's resumable checkpoint (checkpoint.ckpt, ≈ 2× the model). By default it is deleted when a run " +
                      "finishes (an interrupted run keeps it and resumes); the model evaluated on test stays in best.ckpt. Not part of a run's identity",
        Recursive = true,
    };

    /// <summary>The --threads default on a machine with <paramref name="cores"/> logical cores: all of them.</summary>
    internal static int DefaultThreads(int cores) => Math.Max(1, cores);

    /// <summary>The experiment context of a command; <paramref name="keepCheckpoints"/> (a spec or config file's) applies
    /// unless --keep-checkpoints is given.</summary>
    public static ExperimentContext Context(ParseResult p, IRunObserver observer, bool overwrite = false, bool? keepCheckpoints = null) =>
        new()
        {
            Data = DataDirectory.Resolve(p.GetValue(DataDir)),
            ResultsRoot = Path.GetFullPath(p.GetValue(Results)
                ?? Path.Combine(Provenance.FindRepoRoot(Environment.CurrentDirectory) ?? Environment.CurrentDirectory, "results")),
            Observer = observer,
            Overwrite = overwrite,
            KeepCheckpoints = p.GetResult(KeepCheckpoints) is { Implicit: false } given ? given.GetValueOrDefault<bool>() : keepCheckpoints ?? false,
        };
}
