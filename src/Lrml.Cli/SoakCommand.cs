using System.CommandLine;
using Lrml.Experiments;
using Spectre.Console;

using Lrml.Models;

using Lrml.Fast;

namespace Lrml.Cli;

/// <summary>`lrml soak`: many epochs without early stopping per engine, resident memory sampled after each epoch,
/// growth after warm-up fitted; writes soak.json, soak.csv, soak.md and the memory chart.</summary>
internal static class SoakCommand
{
    public static Command Build()
    {
        var cmd = new Command("soak", "Memory soak: train for many epochs per engine (no early stopping), record resident memory after every epoch and report whether it stays flat.");
        var dataset = new Option<string>("--dataset", "-d") { Description = "Dataset", DefaultValueFactory = _ => "ml-1m" };
        var protocol = new Option<string?>("--protocol", "-p") { Description = "Protocol (default: the dataset's)" };
        var model = new Option<string>("--model", "-m") { Description = "Model", DefaultValueFactory = _ => "lrml" };
        var engines = new Option<string[]>("--engines") { Description = "Engines to soak in turn: torch, fused", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => ["torch", "fused"] };
        var epochs = new Option<int>("--epochs", "-e") { Description = "Epochs per engine", DefaultValueFactory = _ => 100 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Validate every N epochs", DefaultValueFactory = _ => 1 };
        var warmup = new Option<int>("--warmup") { Description = "Epochs of warm-up before growth is measured", DefaultValueFactory = _ => 10 };
        var seed = new Option<long>("--seed") { Description = "Run seed", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch-size") { Description = "Positives per batch", DefaultValueFactory = _ => 1024 };
        var set = new Option<string[]>("--set", "-s") { Description = "Model setting key=value (repeatable)", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string?>("--out", "-o") { Description = "Output directory (default: results/soak/<dataset>-<time>)" };
        foreach (var o in new Option[] { dataset, protocol, model, engines, epochs, evalEvery, warmup, seed, batch, set, output }) cmd.Options.Add(o);
        cmd.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver(), overwrite: true);
            var options = new SoakOptions
            {
                Dataset = p.GetValue(dataset)!, Protocol = p.GetValue(protocol), Model = p.GetValue(model)!,
                Engines = p.GetValue(engines)!.SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
                Epochs = p.GetValue(epochs), EvalEvery = p.GetValue(evalEvery), WarmupEpochs = p.GetValue(warmup), Seed = p.GetValue(seed),
                BatchSize = p.GetValue(batch), Threads = p.GetValue(CommonOptions.Threads), Settings = ConfigBinder.ParsePairs(p.GetValue(set) ?? []),
            };
            string dir = p.GetValue(output) is string o ? Path.GetFullPath(o)
                : Path.Combine(ctx.ResultsRoot, "soak", $"{options.Dataset}-{DateTime.UtcNow:yyyyMMdd-HHmmss}");
            var report = Soak.Run(options, ctx, dir);
            Console.WriteLine(report.ToMarkdown());
            AnsiConsole.MarkupLine($"Soak written to [bold]{Markup.Escape(dir)}[/] (soak.json, soak.csv, soak.md, soak-memory.html)");
            return report.Series.All(s => s.Flat) ? 0 : 3;
        }));
        return cmd;
    }
}
