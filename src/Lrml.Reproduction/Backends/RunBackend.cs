using System.Diagnostics;
using System.Text.Json.Nodes;
using Lrml.Reproduction;
using Lrml.Training;
using Lrml.Util;

using Lrml.Experiments;

using Lrml.Models;

namespace Lrml.Reproduction.Backends;

/// <summary>What became of a planned run after a backend handled it.</summary>
public enum RunState
{
    /// <summary>Trained (now or earlier): its directory holds result.json and a spec.json of exactly this spec.</summary>
    Finished,
    /// <summary>Training diverged (a deterministic outcome of the seeded run: recorded, never retried).</summary>
    Diverged,
    /// <summary>Submitted to the cluster and still queued or running (e.g. after <c>--no-wait</c>), or only planned in a dry run:
    /// run the same command again to collect it.</summary>
    Queued,
    /// <summary>Ended without a result (failed, cancelled, killed by the time limit, …) after every retry, or not run at all
    /// when only collecting. Reported as missing, never silently dropped.</summary>
    Missing,
}

/// <summary>One planned run as a backend left it.</summary>
/// <param name="Planned">The run (spec and directory).</param>
/// <param name="State">Finished, diverged, queued or missing.</param>
/// <param name="Run">The finished run (result and per-user values) when <paramref name="State"/> is Finished.</param>
/// <param name="Message">Why it diverged, where it is queued, or why it is missing.</param>
/// <param name="Seconds">Wall seconds of the run: measured here for a local run, training + evaluation seconds from its
/// result otherwise.</param>
/// <param name="DivergedEpoch">The epoch at which training diverged.</param>
public sealed record BackendRun(PlannedRun Planned, RunState State, StoredRun? Run = null, string? Message = null, double Seconds = 0, int DivergedEpoch = 0)
{
    /// <summary>A short text for tables and messages: the run directory's name and what happened.</summary>
    public override string ToString() => $"{Path.GetFileName(Planned.Directory)}: {State.ToString().ToLowerInvariant()}{(Message is null ? "" : " — " + Message)}";
}

/// <summary>
/// Where the runs of a sweep or a reproduction are trained. Every run is independent and seeded (a spec → a run directory
/// with result.json), so a backend only decides where <see cref="RunStore.RunOrLoad"/> is called: here, one after the other
/// (<see cref="LocalBackend"/>), or on a cluster's nodes as one Slurm job array (<see cref="SlurmBackend"/>); the numbers are
/// the same either way.
/// </summary>
public interface IRunBackend
{
    /// <summary>"local", "slurm" or "collect".</summary>
    string Name { get; }

    /// <summary>
    /// Brings every planned run to an end state and returns one <see cref="BackendRun"/> per planned run, in order. Runs
    /// already finished on disk are loaded, not trained again. <paramref name="onEnded"/> is called as each run finishes or
    /// diverges (callers record progress there, so an interrupted sweep keeps what ended).
    /// </summary>
    /// <param name="runs">The runs.</param>
    /// <param name="context">Data, results root and observer.</param>
    /// <param name="folder">The experiment's folder: a cluster backend keeps its job files in folder/slurm/.</param>
    /// <param name="label">What these runs are, for messages and job names ("trials", "finals", "main-table").</param>
    /// <param name="onEnded">Called once per run that finished or diverged.</param>
    IReadOnlyList<BackendRun> Run(IReadOnlyList<PlannedRun> runs, ExperimentContext context, string folder, string label, Action<BackendRun>? onEnded = null);
}

/// <summary>Trains each run in this process, one after the other (the kit's default).</summary>
internal sealed class LocalBackend : IRunBackend
{
    /// <summary>The one instance.</summary>
    public static readonly LocalBackend Instance = new();

    /// <inheritdoc/>
    public string Name => "local";

    /// <inheritdoc/>
    public IReadOnlyList<BackendRun> Run(IReadOnlyList<PlannedRun> runs, ExperimentContext context, string folder, string label, Action<BackendRun>? onEnded = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var list = new List<BackendRun>(runs.Count);
        foreach (var p in runs)
        {
            context.Observer.Message(RunOfN(label, list.Count, runs.Count, p));
            var sw = Stopwatch.StartNew();
            BackendRun r;
            try
            {
                var run = RunStore.RunOrLoad(p.Spec, context, p.Directory);
                r = new BackendRun(p, RunState.Finished, run, Seconds: sw.Elapsed.TotalSeconds);
            }
            catch (TrainingDivergedException ex)
            {
                context.Observer.Message($"  diverged: {ex.Message}");
                r = new BackendRun(p, RunState.Diverged, Message: ex.Message, Seconds: sw.Elapsed.TotalSeconds, DivergedEpoch: ex.Epoch);
            }
            onEnded?.Invoke(r);
            list.Add(r);
        }
        return list;
    }

    /// <summary>The line before each run: its own label (a sweep's "Trial 3/8: …" already counts), else
    /// "main table (quick): run 3 of 18 · ml-100k · lrml · seed 2".</summary>
    internal static string RunOfN(string label, int index, int count, PlannedRun p) =>
        p.Label ?? $"{label}: run {index + 1} of {count} · {p.Spec.Dataset} · {p.Spec.Model} · seed {p.Spec.Train.Seed}";
}

/// <summary>Trains nothing: loads the runs that finished (e.g. on a cluster, after <c>--no-wait</c>) and reports the others as
/// missing, so a table can be built from what is there.</summary>
internal sealed class CollectBackend : IRunBackend
{
    /// <summary>The one instance.</summary>
    public static readonly CollectBackend Instance = new();

    /// <inheritdoc/>
    public string Name => "collect";

    /// <inheritdoc/>
    public IReadOnlyList<BackendRun> Run(IReadOnlyList<PlannedRun> runs, ExperimentContext context, string folder, string label, Action<BackendRun>? onEnded = null)
    {
        ArgumentNullException.ThrowIfNull(runs);
        var list = new List<BackendRun>(runs.Count);
        foreach (var p in runs)
        {
            var r = RunEnd.Read(p, context) ?? new BackendRun(p, RunState.Missing, Message: "not finished (collecting only: nothing was trained or submitted)");
            if (r.State is RunState.Finished or RunState.Diverged) onEnded?.Invoke(r);
            list.Add(r);
        }
        return list;
    }
}

/// <summary>How a run ended, read from its directory: finished (result.json with a spec.json of the same key) or diverged
/// (diverged.json of the same key, written by a cluster task whose training diverged).</summary>
internal static class RunEnd
{
    /// <summary>Name of the divergence record a task writes into its run directory.</summary>
    public const string DivergedFile = "diverged.json";

    /// <summary>The run's end state from its directory, or null when it has not ended.</summary>
    public static BackendRun? Read(PlannedRun p, ExperimentContext context)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (p.IsFinishedIn(context))
        {
            var run = RunStore.Load(p.Directory);
            return new BackendRun(p, RunState.Finished, run, Seconds: run.Result.TrainSeconds + run.Result.EvalSeconds);
        }
        string path = Path.Combine(p.Directory, DivergedFile);
        if (!File.Exists(path)) return null;
        try
        {
            var o = JsonNode.Parse(File.ReadAllText(path))?.AsObject();
            if ((string?)o?["key"] != RunIdentity.Of(p.Spec, context).Key) return null;   // a record of this computation only
            return new BackendRun(p, RunState.Diverged, Message: (string?)o!["message"], DivergedEpoch: (int?)o["epoch"] ?? 0);
        }
        catch (System.Text.Json.JsonException) { return null; }
    }

    /// <summary>Records that <paramref name="spec"/>'s training diverged in <paramref name="runDirectory"/> (atomically).</summary>
    public static void WriteDiverged(string runDirectory, RunSpec spec, ExperimentContext context, TrainingDivergedException ex)
    {
        ArgumentNullException.ThrowIfNull(ex);
        Directory.CreateDirectory(runDirectory);
        var o = new JsonObject { ["key"] = RunIdentity.Of(spec, context).Key, ["epoch"] = ex.Epoch, ["step"] = ex.Step, ["message"] = ex.Message };
        AtomicFile.WriteAllText(Path.Combine(runDirectory, DivergedFile), o.ToJsonString(ConfigBinder.Json) + "\n");
    }
}

/// <summary>
/// Raised when an experiment cannot produce its result yet because runs it needs have not ended: they are queued or running
/// on the cluster (submitted with <c>--no-wait</c>, or planned in a dry run), or they ended without a result after every
/// retry. Running the same command again picks up what finished.
/// </summary>
internal sealed class RunsOutstandingException(string message, IReadOnlyList<BackendRun> runs) : Exception(message)
{
    /// <summary>The runs that have not ended (state Queued or Missing).</summary>
    public IReadOnlyList<BackendRun> Runs { get; } = runs;

    /// <summary>True when every outstanding run is only queued (nothing failed): the caller should come back later.</summary>
    public bool OnlyQueued => Runs.All(r => r.State == RunState.Queued);

    /// <summary>Throws when any of <paramref name="ended"/> is queued or missing; the message counts them and says what to do.</summary>
    public static void ThrowIfAny(IReadOnlyList<BackendRun> ended, string what)
    {
        ArgumentNullException.ThrowIfNull(ended);
        var open = ended.Where(r => r.State is RunState.Queued or RunState.Missing).ToList();
        if (open.Count == 0) return;
        int queued = open.Count(r => r.State == RunState.Queued), missing = open.Count - queued;
        var parts = new List<string>();
        if (queued > 0) parts.Add($"{queued} queued or running");
        if (missing > 0) parts.Add($"{missing} ended without a result");
        string next = missing > 0
            ? "Fix the cause (see each run's log), then run the same command again: finished runs are reused and only the missing ones run."
            : "Run the same command again when they are done (finished runs are reused).";
        throw new RunsOutstandingException(
            $"{open.Count} of {ended.Count} {what} not finished yet ({string.Join(", ", parts)}). {next}", open);
    }
}
