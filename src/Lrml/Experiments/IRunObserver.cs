using Lrml.Training;

using Lrml.Models;

namespace Lrml.Experiments;

/// <summary>
/// Receives what a running experiment has to say: messages, per-epoch records and live progress. The
/// CLI renders them as a progress bar and lines; notebooks print epoch lines; tests ignore them.
/// </summary>
public interface IRunObserver
{
    void Message(string text);
    /// <summary>Something the user must not miss about a finished run (e.g. a model no better than popularity).</summary>
    void Warning(string text) => Message("warning: " + text);
    void RunStarted(RunSpec spec, string description) { }
    void Progress(TrainProgress progress) { }
    void Epoch(EpochRecord record) { }
    void RunFinished(RunResult result) { }
}

/// <summary>An observer that ignores everything.</summary>
internal sealed class SilentObserver : IRunObserver
{
    public static readonly SilentObserver Instance = new();
    public void Message(string text) { }
}

/// <summary>Writes one plain line per message and per epoch to a TextWriter (notebooks, logs, CI).</summary>
internal sealed class LineObserver(TextWriter writer) : IRunObserver
{
    /// <summary>The indented second line of an epoch with LRML's memory usage (<see cref="Lrml.Models.MemoryUsage.Format"/>).</summary>
    public static string MemoryLine(IReadOnlyDictionary<string, double> diagnostics) => "             memory: " + Lrml.Models.MemoryUsage.Format(diagnostics);

    /// <summary>The indented lines under an epoch for its diagnostics: LRML's memory usage when measured, and the epoch's test
    /// metrics of an oracle-epoch run (said to be unused for any choice).</summary>
    public static IEnumerable<string> DiagnosticLines(IReadOnlyDictionary<string, double>? diagnostics)
    {
        if (diagnostics is null) yield break;
        if (diagnostics.Keys.Any(k => !k.StartsWith(Experiment.OraclePrefix, StringComparison.Ordinal))) yield return MemoryLine(diagnostics);
        var oracle = diagnostics.Where(kv => kv.Key.StartsWith(Experiment.OraclePrefix, StringComparison.Ordinal) && !kv.Key.Contains("AUC", StringComparison.Ordinal)).ToList();
        if (oracle.Count > 0)
            yield return "             test (for the oracle-epoch report only): " +
                         string.Join("  ", oracle.Select(kv => FormattableString.Invariant($"{kv.Key[Experiment.OraclePrefix.Length..]} {kv.Value:F4}")));
    }

    public void Message(string text) => writer.WriteLine(text);
    public void RunStarted(RunSpec spec, string description) => writer.WriteLine(description);
    public void Epoch(EpochRecord r)
    {
        string val = r.Validation is null ? "" : "  " + string.Join("  ", r.Validation.Select(kv => $"{kv.Key} {kv.Value:F4}"));
        writer.WriteLine($"  epoch {r.Epoch,3}  loss {r.MeanLoss:F4}  {r.TrainSeconds:F1}s{val}{(r.IsBest ? "  *" : "")}");
        foreach (var line in DiagnosticLines(r.Diagnostics)) writer.WriteLine(line);
    }
}
