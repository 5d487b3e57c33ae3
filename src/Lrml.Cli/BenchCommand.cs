using System.CommandLine;
using Lrml.Experiments;
using Lrml.Fast.Bench;
using Lrml.Reproduction;
using Spectre.Console;

using Lrml.Models;

namespace Lrml.Cli;

/// <summary>`lrml bench`: training and evaluation speed and peak memory on synthetic data of the named
/// shapes, with the plain TorchSharp dense-Adam LRML measured in the same process for a side-by-side ratio.</summary>
internal static class BenchCommand
{
    public static Command Build()
    {
        var cmd = new Command("bench", "Measure training triples/s, epoch seconds, evaluation seconds and peak memory (fused engine vs the TorchSharp reference) on ML-1M-, ML-20M- and Netflix-shaped synthetic data; writes JSON.");
        var quick = new Option<bool>("--quick") { Description = "A CI-sized run (tiny shape, a few steps)" };
        var shapes = new Option<string[]>("--shapes") { Description = "Shapes: ml-1m, ml-20m, netflix, tiny, or users x items x pairs (e.g. 1000x500x30000)", AllowMultipleArgumentsPerToken = true };
        var repeats = new Option<int?>("--repeats") { Description = "Timed repeats per measure (the median is reported)" };
        var noReference = new Option<bool>("--no-reference") { Description = "Skip the TorchSharp reference (no ratio)" };
        var noEval = new Option<bool>("--no-eval") { Description = "Skip the evaluation measures" };
        var models = new Option<string[]>("--models") { Description = "LRML sizes as DxN (default: 100x20 50x10), or none", AllowMultipleArgumentsPerToken = true };
        var baselines = new Option<string[]>("--baselines") { Description = "Registry models measured at their full-profile preset through every engine they have (default: every model that trains), or none (also skips the full-profile projection)", AllowMultipleArgumentsPerToken = true };
        var noDense = new Option<bool>("--no-dense-adam") { Description = "Skip the fused engine's dense-Adam measure" };
        var variants = new Option<string[]>("--variant") { Description = "Extra row: a model at its preset with settings changed, model:key=value[,key=value] (repeatable; default cml:rank_weighting=warp; none for no extra row)", AllowMultipleArgumentsPerToken = true };
        var noLazy = new Option<bool>("--no-lazy-adam") { Description = "Skip the LazyAdam measure of registry models whose preset uses exact Adam" };
        var optimizer = new Option<string?>("--optimizer") { Description = "lazy-adam (default) | adam" };
        var output = new Option<string?>("--output", "-o") { Description = "JSON report path (default: results/bench/bench-<time>.json)" };
        foreach (var o in new Option[] { quick, shapes, models, baselines, noDense, noLazy, variants, repeats, noReference, noEval, optimizer, output }) cmd.Options.Add(o);
        cmd.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver());
            string path = p.GetValue(output) is string o ? Path.GetFullPath(o)
                : Path.Combine(ctx.ResultsRoot, "bench", $"bench-{DateTime.UtcNow:yyyyMMdd-HHmmss}.json");
            var options = (p.GetValue(quick) ? BenchOptions.QuickMode : new BenchOptions()) with
            {
                Threads = p.GetValue(CommonOptions.Threads),
                Log = line => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(line)}[/]"),
                OutputPath = path,
                // the projection's "expected" epochs: finished full-profile main-table runs in this results folder, if any
                TypicalEpochs = TypicalEpochs.FromFinishedRuns(MainTable.OutputDirectory(new MainTableOptions { Profile = Lrml.Reproduction.Profile.Full }, ctx)),
            };
            if (p.GetValue(shapes) is { Length: > 0 } s)
                options = options with { Shapes = s.SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray() };
            static string[] List(string[] v) => v.SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                .Where(x => !x.Equals("none", StringComparison.OrdinalIgnoreCase)).ToArray();
            if (p.GetValue(models) is { Length: > 0 } m)
                options = options with { Models = List(m).Select(BenchModelShape.Parse).ToArray() };
            if (p.GetValue(baselines) is { Length: > 0 } bl)
                options = options with { Baselines = List(bl) };
            if (p.GetValue(noDense)) options = options with { MeasureFusedDenseAdam = false };
            if (p.GetValue(noLazy)) options = options with { MeasureRegistryLazyAdam = false };
            if (p.GetValue(variants) is { Length: > 0 } vs)
                options = options with { Variants = vs.Where(v => !v.Equals("none", StringComparison.OrdinalIgnoreCase)).Select(BenchVariant.Parse).ToArray() };
            if (p.GetValue(repeats) is int r) options = options with { Repeats = r };
            if (p.GetValue(noReference)) options = options with { Reference = false };
            if (p.GetValue(noEval)) options = options with { Evaluate = false };
            if (p.GetValue(optimizer) is string opt)
                options = options with { Optimizer = ConfigBinder.Apply(new Lrml.Models.LrmlConfig(), [ConfigBinder.Pair<Lrml.Models.LrmlConfig>(c => c.Optimizer, opt)]).Optimizer };
            var report = BenchRunner.Run(options);
            Console.WriteLine(report.ToMarkdown());
            AnsiConsole.MarkupLine($"Report written to [bold]{Markup.Escape(path)}[/]");
            return 0;
        }));
        return cmd;
    }
}
