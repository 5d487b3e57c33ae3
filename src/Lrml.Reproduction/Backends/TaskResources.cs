using System.Globalization;
using Lrml.Reproduction;
using Lrml.Protocols;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction.Backends;

/// <summary>
/// What one array task asks the scheduler for by default, derived from the kit's own estimate of the runs it will do: the
/// time limit from <see cref="DurationEstimator"/> (throughput measured here × the run's work), the memory from the sizes of
/// the data, the model and the scoring buffers, the CPUs from the runs' threads. One job script serves every task of an
/// array, so each default is the largest over its runs.
/// </summary>
/// <param name="Time">--time of one task.</param>
/// <param name="MemoryMb">--mem of one task.</param>
/// <param name="Cpus">--cpus-per-task.</param>
/// <param name="Explanation">One sentence on where the values come from.</param>
internal sealed record TaskResources(TimeSpan Time, int MemoryMb, int Cpus, string Explanation)
{
    /// <summary>Memory of the runtime itself (.NET, TorchSharp's native libraries) before any data, in MB.</summary>
    public const int BaselineMb = 512;

    /// <summary>Factor between the estimated memory and the request: the estimate counts the large arrays, not every buffer.</summary>
    public const double MemoryHeadroom = 1.5;

    /// <summary>The smallest memory request, in MB.</summary>
    public const int MinimumMemoryMb = 1024;

    /// <summary>Users scored together in one full-ranking chunk, for the size of the score buffer.</summary>
    public const int ScoringChunkUsers = 256;

    /// <summary>
    /// The default time limit of a task from the longest expected run: twice the estimate (a node may be slower than this
    /// machine, or shared) plus 10 minutes for start-up and data loading, rounded up to whole 5 minutes. A task that still
    /// runs out of time is resubmitted and resumes from its checkpoint.
    /// </summary>
    public static TimeSpan TimeFor(double expectedSeconds)
    {
        double seconds = 2 * Math.Max(0, expectedSeconds) + 600;
        return TimeSpan.FromMinutes(5 * Math.Ceiling(seconds / 300));
    }

    /// <summary>
    /// The default memory of a run in MB: <see cref="MemoryHeadroom"/> × (<see cref="BaselineMb"/> + data + model + scoring),
    /// rounded up to 256 MB, at least <see cref="MinimumMemoryMb"/>. Data = 48 bytes per interaction of the split (the
    /// dataset, the split and the trainer's copies: three times a 16-byte pair) + 4 bytes per frozen sampled candidate;
    /// model = 24 bytes per embedding value ((users + items) × dim values, each held as weights, gradient, two Adam moments
    /// and two saved copies for the best state and the checkpoint); scoring = 8 bytes per score of a
    /// <see cref="ScoringChunkUsers"/>-user chunk over every item (scores and their ranks).
    /// </summary>
    public static int MemoryMbFor(long interactions, long sampledCandidates, long users, long items, int dim)
    {
        double bytes = 48.0 * interactions + 4.0 * sampledCandidates + 24.0 * (users + items) * dim + 8.0 * ScoringChunkUsers * items;
        double mb = MemoryHeadroom * (BaselineMb + bytes / (1024 * 1024));
        return Math.Max(MinimumMemoryMb, (int)(256 * Math.Ceiling(mb / 256)));
    }

    /// <summary>The default memory of one run of <paramref name="spec"/> on <paramref name="split"/> (see
    /// <see cref="MemoryMbFor(long, long, long, long, int)"/>).</summary>
    public static int MemoryMbFor(RunSpec spec, Split split)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(split);
        long interactions = (long)split.Train.Count + split.Validation.Count + split.Test.Count;
        long candidates = (long)(split.ValidationNegatives?.Count ?? 0) + (split.TestNegatives?.Count ?? 0);
        return MemoryMbFor(interactions, candidates, split.NumUsers, split.NumItems, EmbeddingDim(spec));
    }

    /// <summary>The run's embedding dimension: its "dim" setting, else its model's default, else 0 (a model without
    /// embeddings, e.g. popularity).</summary>
    public static int EmbeddingDim(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var set = spec.Settings.LastOrDefault(kv => ConfigBinder.Normalise(kv.Key) == "dim");
        if (set.Key is not null && int.TryParse(set.Value.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int d)) return d;
        var defaults = ModelRegistry.Get(spec.Model).DefaultConfig();
        var node = defaults.FirstOrDefault(kv => ConfigBinder.Normalise(kv.Key) == "dim").Value;
        return node is System.Text.Json.Nodes.JsonValue v && v.TryGetValue(out int dim) ? dim : 0;
    }

    /// <summary>
    /// The defaults for a set of runs: each distinct configuration is measured once (<see cref="DurationEstimator.Measure"/>,
    /// a fraction of a second) unless <paramref name="settings"/> gives the time; the largest run decides. Values given in
    /// <paramref name="settings"/> win.
    /// </summary>
    public static TaskResources For(IReadOnlyList<PlannedRun> runs, ExperimentContext context, SlurmSettings settings)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(settings);
        double longest = 0;
        int memory = 0;
        foreach (var group in runs.GroupBy(r => DurationEstimator.GroupKey(r.Spec)))
        {
            var spec = group.First().Spec;
            string protocol = (spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, context)).ToLowerInvariant();
            var split = Experiment.GetSplit(spec.Dataset, protocol, spec.SplitSeed, spec.SampledNegativesFor(protocol), context);
            memory = Math.Max(memory, group.Max(r => MemoryMbFor(r.Spec, split)));
            if (settings.Time is null)
            {
                var speed = DurationEstimator.Measure(spec, split);
                longest = Math.Max(longest, group.Max(r => DurationEstimator.RunSeconds(r.Spec, split, speed)));
            }
        }
        var time = settings.Time ?? TimeFor(longest);
        int mem = settings.MemoryMb ?? memory;
        int cpus = settings.CpusPerTask ?? runs.Max(r => r.Spec.Train.Threads);
        var ci = CultureInfo.InvariantCulture;
        var why = new List<string>();
        if (settings.Time is null)
            why.Add($"--time {SlurmSettings.FormatTime(time)}: the longest run is expected to take {DurationEstimate.Format(TimeSpan.FromSeconds(longest))} " +
                    "at the throughput measured here (2 × that + 10 min, rounded up to 5 min)");
        if (settings.MemoryMb is null)
            why.Add($"--mem {mem.ToString(ci)}M: the largest run's data, model and scoring buffers (× {MemoryHeadroom.ToString(ci)} + {BaselineMb} MB runtime)");
        if (settings.CpusPerTask is null) why.Add($"--cpus-per-task {cpus.ToString(ci)}: the runs' threads");
        string explanation = why.Count == 0 ? "Every resource was given on the command line." : "Defaults: " + string.Join("; ", why) + ".";
        return new TaskResources(time, mem, cpus, explanation);
    }
}
