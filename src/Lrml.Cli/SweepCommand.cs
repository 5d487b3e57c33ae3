using System.CommandLine;
using System.Globalization;
using Lrml.Experiments;
using Lrml.Reproduction.Sweeps;
using Spectre.Console;

using Lrml.Models;

namespace Lrml.Cli;

/// <summary>`lrml sweep`: tune one model over a search space (selection on validation only), then multi-seed final runs.</summary>
internal static class SweepCommand
{
    private static readonly Option<string[]> Space = new("--space") { Description = "Search dimension (repeatable): key=v1,v2 | key=[list],[list] | key=uniform(a,b) | key=loguniform(a,b) | key=choice(a,b). Default: the model's declared space", AllowMultipleArgumentsPerToken = false };
    private static readonly Option<string> Search = new("--search") { Description = "grid | random", DefaultValueFactory = _ => "grid" };
    private static readonly Option<int?> Trials = new("--trials") { Description = "Trial budget (default: 8 quick, 20 full) — keep it equal across models" };
    private static readonly Option<int?> Seeds = new("--seeds") { Description = "Final runs of the chosen config (default: 3 quick, 5 full)" };
    private static readonly Option<string> Profile = new("--profile") { Description = "quick | full (default trials, seeds, epochs, patience)", DefaultValueFactory = _ => "quick" };
    private static readonly Option<int?> SweepEpochs = new("--epochs", "-e") { Description = "Maximum epochs per run (default: 20 quick, 50 full)" };
    private static readonly Option<int?> SweepPatience = new("--patience") { Description = "Early-stopping patience (default: 3 quick, 5 full)" };
    private static readonly Option<int?> MinEpochs = new("--min-epochs") { Description = "Epochs before early stopping may end a run (default: 5 quick, 10 full), so a slow starter is not cut off at popularity level" };
    private static readonly Option<bool> NoDefaultTrial = new("--no-default-trial") { Description = "Do not make the model's default configuration trial 0 (by default it is, so a search never chooses below the default)" };
    private static readonly Option<string> Select = new("--select") { Description = "Validation metric that selects the config", DefaultValueFactory = _ => "nDCG@10" };
    private static readonly Option<string?> Name = new("--name") { Description = "Sweep folder name (default: the model name), e.g. cml-warp" };
    private static readonly Option<string?> Out = new("--out", "-o") { Description = "Sweep directory (default: results/sweeps/<dataset>/<protocol>/<name>)" };
    private static readonly Option<string?> PretrainFrom = new("--pretrain-from") { Description = "NeuMF only: GMF_SWEEP_DIR,MLP_SWEEP_DIR — pre-train NeuMF from their chosen configs (NCF §3.4.1)" };
    private static readonly Option<bool> Collect = new("--collect") { Description = "Only print the table of every finished sweep under the results root (and write sweeps/baselines.csv|md and sweeps/presets.json)" };
    private static readonly Option<long> SearchSeed = new("--search-seed") { Description = "Seed of the trial list (grid subset / random draws)", DefaultValueFactory = _ => 1 };

    public static Command Build()
    {
        var cmd = new Command("sweep", "Tune a model with a fixed trial budget (grid or random search), select on validation only, then run the chosen config with several seeds (mean ± std). Resumable.");
        foreach (var o in new Option[] { TrainCommand.Dataset, TrainCommand.Protocol, TrainCommand.Model, TrainCommand.Set, TrainCommand.Engine, Space, Search, Trials, Seeds,
                     Profile, SweepEpochs, SweepPatience, MinEpochs, NoDefaultTrial, Select, Name, Out, PretrainFrom, SearchSeed, Collect, TrainCommand.BatchSize, TrainCommand.Negatives, TrainCommand.EvalEvery,
                     TrainCommand.SplitSeed, TrainCommand.SampledNegatives, TrainCommand.NoFull, CommonOptions.KeepCheckpoints }.Concat(BackendOptions.All))
            cmd.Options.Add(o);
        DatasetOptions.AddTo(cmd);
        cmd.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver());
            if (p.GetValue(Collect))
            {
                string root = Path.Combine(ctx.ResultsRoot, "sweeps");
                var table = SweepTable.Collect(root);
                if (Directory.Exists(root))
                {
                    table.Save(root, "baselines");
                    Lrml.Util.AtomicFile.WriteAllText(Path.Combine(root, "presets.json"), SweepTable.Presets(root).ToJsonString(ConfigBinder.Json) + "\n");
                    if (SweepTable.SearchCurves(root) is { } curves) Lrml.Reproduction.Plots.Charts.SaveHtml(curves, Path.Combine(root, "search-curves.html"));
                }
                Console.WriteLine(table.ToMarkdown());
                return 0;
            }
            var spec = SpecFrom(p);
            var backend = BackendOptions.From(p);
            string dir = p.GetValue(Out) is string o ? Path.GetFullPath(o) : Sweep.DefaultDirectory(spec, ctx);
            SweepResult result;
            try { result = Sweep.Run(spec, ctx, dir, backend); }
            catch (Lrml.Reproduction.Backends.RunsOutstandingException e)
            {
                if (backend is Lrml.Reproduction.Backends.SlurmBackend { Settings.DryRun: true })
                    AnsiConsole.MarkupLine("Dry run: once every trial has ended and the configuration is chosen on validation, the sweep submits " +
                                           "the chosen configuration's other final seeds as a second job array.");
                return BackendOptions.Report(e, backend);
            }
            Render(result);
            return BackendOptions.ReportMissing(result.Missing, collecting: false);
        }));
        return cmd;
    }

    private static SweepSpec SpecFrom(ParseResult p)
    {
        var spaceArgs = p.GetValue(Space) ?? [];
        string? pre = p.GetValue(PretrainFrom);
        (string, string)? pretrain = null;
        if (pre is not null)
        {
            var parts = pre.Split(',', StringSplitOptions.TrimEntries);
            if (parts.Length != 2) throw new ArgumentException("--pretrain-from expects GMF_SWEEP_DIR,MLP_SWEEP_DIR.");
            pretrain = (Path.GetFullPath(parts[0]), Path.GetFullPath(parts[1]));
        }
        var settings = ConfigBinder.ParsePairs(p.GetValue(TrainCommand.Set) ?? []);
        // explicit --batch-size / --negatives become fixed trainer settings only when given
        if (p.GetResult(TrainCommand.BatchSize) is { Implicit: false }) settings.Add(ConfigBinder.Pair<Lrml.Training.TrainConfig>(t => t.BatchSize, p.GetValue(TrainCommand.BatchSize).ToString(CultureInfo.InvariantCulture)));
        if (p.GetResult(TrainCommand.Negatives) is { Implicit: false }) settings.Add(new(Sweep.NegativesAlias, p.GetValue(TrainCommand.Negatives).ToString(CultureInfo.InvariantCulture)));
        return new SweepSpec
        {
            Dataset = DatasetOptions.Resolve(p, p.GetValue(TrainCommand.Dataset)!),
            Protocol = p.GetValue(TrainCommand.Protocol),
            Model = p.GetValue(TrainCommand.Model)!,
            Engine = p.GetValue(TrainCommand.Engine),
            Space = spaceArgs.Length == 0 ? null : SearchSpace.Parse(spaceArgs),
            Settings = settings,
            Search = p.GetValue(Search)!.ToLowerInvariant() switch
            {
                "grid" => SearchKind.Grid,
                "random" => SearchKind.Random,
                var s => throw new ArgumentException($"--search must be grid or random (got '{s}')."),
            },
            Trials = p.GetValue(Trials),
            Seeds = p.GetValue(Seeds),
            Profile = p.GetValue(Profile)!.ToLowerInvariant() switch
            {
                "quick" => SweepProfile.Quick,
                "full" => SweepProfile.Full,
                var s => throw new ArgumentException($"--profile must be quick or full (got '{s}')."),
            },
            Epochs = p.GetValue(SweepEpochs),
            Patience = p.GetValue(SweepPatience), MinEpochs = p.GetValue(MinEpochs), DefaultFirst = !p.GetValue(NoDefaultTrial),
            SelectionMetric = p.GetValue(Select)!,
            Name = p.GetValue(Name),
            PretrainFrom = pretrain,
            SearchSeed = p.GetValue(SearchSeed),
            SplitSeed = p.GetValue(TrainCommand.SplitSeed),
            SampledNegatives = p.GetValue(TrainCommand.SampledNegatives),
            FullRanking = !p.GetValue(TrainCommand.NoFull),
            Train = new Lrml.Training.TrainConfig { Threads = BackendOptions.RunThreads(p), EvalEvery = p.GetValue(TrainCommand.EvalEvery) },
        };
    }

    private static void Render(SweepResult r)
    {
        var trials = new Table().Title($"{r.Spec.Model} on {r.Spec.Dataset}: {r.Trials.Count} trials (selected on validation {r.Spec.SelectionMetric})")
            .AddColumns("trial", "config", "status", "val " + r.Spec.SelectionMetric, "seconds");
        foreach (var t in r.Trials)
            trials.AddRow(t.Trial.ToString(CultureInfo.InvariantCulture) + (t == r.Chosen ? " *" : ""), Markup.Escape(t.Key), t.Status,
                t.Validation.TryGetValue(r.Spec.SelectionMetric, out double v) ? v.ToString("F4", CultureInfo.InvariantCulture) : "",
                t.Seconds.ToString("F0", CultureInfo.InvariantCulture));
        AnsiConsole.Write(trials);
        var summary = new Table().Title($"chosen: {Markup.Escape(r.Chosen.Key)} — mean ± std over {r.Finals.Count(f => f.Status == "ok")} seeds")
            .AddColumns("metric", "mean ± std");
        foreach (var (k, v) in r.Summary)
            if (!k.Contains("AUC") && !k.Contains("MAP") && !k.Contains("Precision")) summary.AddRow(Markup.Escape(k), v.ToString());
        AnsiConsole.Write(summary);
        AnsiConsole.MarkupLine($"Sweep directory: [bold]{Markup.Escape(r.Directory)}[/] (trials.csv, finals.csv, chosen.json, summary.md)");
    }
}
