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
    private readonly System.Diagnostics.Stopwatch _epochClock = new();
    private int _lastEpoch = -1;
    private long _lastDraw;

    public void Message(string text) => ClearLineThen(() => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(text)}[/]"));

    public void RunStarted(RunSpec spec, string description) =>
        ClearLineThen(() => AnsiConsole.MarkupLine($"[bold]{Markup.Escape(description)}[/]"));

    public void Progress(TrainProgress p)
    {
        if (!_interactive) return;
        if (p.Epoch != _lastEpoch) { _lastEpoch = p.Epoch; _epochClock.Restart(); }
        long now = Environment.TickCount64;
        if (now - _lastDraw < 100 && p.Step < p.StepsPerEpoch) return;
        _lastDraw = now;
        const int width = 30;
        int filled = (int)Math.Round(width * (double)p.Step / Math.Max(1, p.StepsPerEpoch));
        double rate = p.Seen / Math.Max(1e-9, _epochClock.Elapsed.TotalSeconds);
        string bar = new string('█', filled) + new string('░', width - filled);
        Console.Write($"\r  epoch {p.Epoch,3}/{p.MaxEpochs}  {bar}  {p.Step}/{p.StepsPerEpoch}  loss/ex {p.LossSoFar / Math.Max(1, p.Seen):F4}  {rate / 1000:F0}k triples/s   ");
    }

    public void Epoch(EpochRecord r) => ClearLineThen(() =>
    {
        string val = r.Validation is null ? "" : "  " + string.Join("  ", r.Validation.Where(kv => !kv.Key.StartsWith("AUC")).Select(kv => $"{kv.Key} {kv.Value:F4}"));
        string line = $"  epoch {r.Epoch,3}  loss {r.MeanLoss:F4}  {r.TrainSeconds:F1}s{val}";
        AnsiConsole.MarkupLine(r.IsBest ? $"{Markup.Escape(line)}  [green]best[/]" : Markup.Escape(line));
        if (r.Diagnostics is not null) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(LineObserver.MemoryLine(r.Diagnostics))}[/]");
    });

    private void ClearLineThen(Action write)
    {
        if (_interactive) Console.Write("\r" + new string(' ', Math.Max(0, Console.WindowWidth - 1)) + "\r");
        write();
    }
}
