using System.Globalization;
using Lrml.Experiments;
using Lrml.Training;

namespace Lrml.Notebooks;

/// <summary>
/// Running the kit's experiments from a notebook: the <see cref="ExperimentContext"/> of the notebook's environment,
/// with a compact progress observer (one line per run), so a cell reads
/// <code>var ctx = env.Context(resultsDir);
/// var report = MainTable.Run(options, ctx);</code>
/// </summary>
public static class NotebookRuns
{
    /// <summary>Environment variable the headless runner sets to redirect results (run directories, tables, charts).</summary>
    public const string ResultsVariable = "LRML_RESULTS_DIR";

    /// <summary>
    /// The experiment context of a notebook: the data directory <see cref="Notebook.Setup"/> found, results under
    /// <paramref name="resultsDirectory"/> (null: <see cref="ResultsVariable"/>, else the repository's <c>results/</c>),
    /// and a <see cref="CompactObserver"/> writing to the cell's output.
    /// </summary>
    public static ExperimentContext Context(this NotebookEnvironment env, string? resultsDirectory = null, TextWriter? output = null)
    {
        ArgumentNullException.ThrowIfNull(env);
        resultsDirectory ??= Environment.GetEnvironmentVariable(ResultsVariable) is { Length: > 0 } r ? r : null;
        string root = resultsDirectory ?? Path.Combine(Provenance.FindRepoRoot(Environment.CurrentDirectory) ?? Environment.CurrentDirectory, "results");
        return new ExperimentContext
        {
            Data = env.DataDirectory,
            ResultsRoot = Path.GetFullPath(root),
            Observer = new CompactObserver(output ?? Console.Out),
        };
    }
}

/// <summary>
/// Progress for notebooks and logs: one line per finished run (model, dataset, seed, epochs, time, test HR@10 and
/// nDCG@10), one per reused run, and the experiment's messages; no per-epoch lines.
/// </summary>
public sealed class CompactObserver(TextWriter writer) : IRunObserver
{
    private static readonly CultureInfo Ci = CultureInfo.InvariantCulture;
    private int _trained, _reused;

    /// <summary>Runs trained so far.</summary>
    public int Trained => _trained;

    /// <summary>Finished runs found on disk and reused so far.</summary>
    public int Reused => _reused;

    /// <inheritdoc/>
    public void Message(string text)
    {
        if (text.StartsWith("Reusing finished run ", StringComparison.Ordinal))
        {
            _reused++;
            writer.WriteLine("reused " + text["Reusing finished run ".Length..]);
            return;
        }
        if (text.StartsWith("Loaded frozen split ", StringComparison.Ordinal)) return; // said once per process, not informative
        writer.WriteLine(text);
    }

    /// <inheritdoc/>
    public void RunFinished(RunResult result)
    {
        _trained++;
        string Metric(string name) => result.Metrics.TryGetValue(name, out double v) ? v.ToString("0.0000", Ci) : "–";
        writer.WriteLine(string.Create(Ci,
            $"run {_trained}: {result.Model} · {result.Dataset} · seed {result.Seed} · {result.Epochs} epochs (best {result.BestEpoch}) · " +
            $"{result.TrainSeconds + result.EvalSeconds:0.0} s · HR@10 {Metric("HR@10")} · nDCG@10 {Metric("nDCG@10")}"));
    }

    /// <inheritdoc/>
    public void Epoch(EpochRecord record) { }
}
