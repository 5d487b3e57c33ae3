using Lrml.Experiments;
using Lrml.Training;
using Spectre.Console;

namespace Lrml.Cli;

/// <summary>
/// Renders a run in the terminal: a live progress bar per epoch (batches, loss, triples/s) when the
/// output is an interactive terminal, and one line per epoch otherwise (logs, CI, pipes).
/// </summary>
internal sealed class ConsoleObserver : IRunObserver
{
    private readonly bool _interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
    private readonly EpochRate _rate = new();
    private long _lastDraw;

    public void Message(string text) => ClearLineThen(() => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]"));

    public void Warning(string text) => ClearLineThen(() => AnsiConsole.MarkupLine($"[yellow]warning:[/] {Markup.Escape(text)}"));

    public void RunStarted(RunSpec spec, string description) =>
        ClearLineThen(() => AnsiConsole.MarkupLine($"[bold]{Markup.Escape(description)}[/]"));

    public void Progress(TrainProgress p)
    {
        if (!_interactive) return;
        var (rate, eta) = _rate.Update(p, Environment.TickCount64 / 1000.0);
        long now = Environment.TickCount64;
        if (now - _lastDraw < 100 && p.Step < p.StepsPerEpoch) return;
        _lastDraw = now;
        Console.Write("\r" + ProgressLine.Format(p, rate, eta) + "   ");
    }

    public void Epoch(EpochRecord r) => ClearLineThen(() =>
    {
        string val = r.Validation is null ? "" : "  " + string.Join("  ", r.Validation.Where(kv => !kv.Key.StartsWith("AUC")).Select(kv => $"{kv.Key} {kv.Value:F4}"));
        string line = $"  epoch {r.Epoch,3}  loss {r.MeanLoss:F4}  {r.TrainSeconds:F1}s{val}";
        AnsiConsole.MarkupLine(r.IsBest ? $"{Markup.Escape(line)}  [green]best[/]" : Markup.Escape(line));
        foreach (var extra in LineObserver.DiagnosticLines(r.Diagnostics)) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(extra)}[/]");
    });

    private void ClearLineThen(Action write)
    {
        if (_interactive) Console.Write("\r" + new string(' ', Math.Max(0, Console.WindowWidth - 1)) + "\r");
        write();
    }
}
