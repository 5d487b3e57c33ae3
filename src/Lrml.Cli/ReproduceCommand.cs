using System.CommandLine;
using Lrml.Reproduction;
using Spectre.Console;

using Lrml.Models;

namespace Lrml.Cli;

/// <summary>`lrml reproduce …`: the experiments the notebooks show, from the command line, writing the
/// same tables (CSV, Markdown) and charts into the results directory.</summary>
internal static class ReproduceCommand
{
    private static readonly Option<string> ProfileOption = new("--profile") { Description = "quick (minutes) | full (the real reproduction)", DefaultValueFactory = _ => "quick", Recursive = true };
    private static readonly Option<string[]> DatasetsOption = new("--datasets") { Description = "Datasets (default: every paper dataset present; synthetic when none): names, or your own data (a file with --columns …, or a JSON dataset file)", AllowMultipleArgumentsPerToken = true, Recursive = true };
    private static readonly Option<string[]> ModelsOption = new("--models") { Description = "Models (default: every model with a preset)", AllowMultipleArgumentsPerToken = true };
    private static readonly Option<int?> SeedsOption = new("--seeds") { Description = "Seeds per model (default: the profile's)", Recursive = true };
    private static readonly Option<bool> OracleOption = new("--oracle-epoch") { Description = "Also report what choosing each run's epoch on test would give, beside the honest numbers (oracle-epoch.md; runs in <profile>-oracle)" };
    private static readonly Option<bool> RetrainOption = new("--retrain-on-validation") { Description = "Also retrain each chosen configuration on train + validation for its chosen epochs and report those test metrics beside the honest ones (retrained.md; runs in <profile>-retrain)" };
    private static readonly Option<bool> CollectOption = new("--collect") { Description = "Train and submit nothing: build the tables from the runs that finished (e.g. a Slurm job submitted with --no-wait) and list the missing ones" };
    private static readonly Option<string?> RecordOption = new("--record-stopping-epochs") { Description = "Write the epochs at which the profile's finished runs stopped (by run identity) to this file and exit: the record the estimate ships with (src/Lrml.Reproduction/Tables/stopping-epochs.json), made after a full run" };
    private static readonly Option<bool> EstimateOption = new("--estimate") { Description = "Only print the expected duration (measured throughput × planned work) and exit; the full profile prints it before starting anyway", Recursive = true };

    public static Command Build()
    {
        var cmd = new Command("reproduce", "Reproduce the paper's experiments (the notebooks' content) and write tables and charts to results/reproduce/.");
        cmd.Options.Add(ProfileOption);
        cmd.Options.Add(DatasetsOption);
        cmd.Options.Add(SeedsOption);
        cmd.Options.Add(EstimateOption);
        cmd.Options.Add(CommonOptions.KeepCheckpoints);
        DatasetOptions.AddTo(cmd);
        var main = new Command("main-table", "LRML vs popularity, BPR-MF, CML (and NCF baselines) on every dataset present: HR@10, nDCG@10, full ranking, paired tests.");
        main.Options.Add(ModelsOption);
        main.Options.Add(OracleOption);
        main.Options.Add(RetrainOption);
        main.Options.Add(RecordOption);
        AddBackendOptions(main);
        main.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver());
            var options = new MainTableOptions
            {
                Profile = Lrml.Reproduction.Profile.Get(p.GetValue(ProfileOption)!),
                Datasets = DatasetsOf(p),
                Models = Split(p.GetValue(ModelsOption)),
                Seeds = p.GetValue(SeedsOption),
                Threads = BackendOptions.RunThreads(p),
                OracleEpoch = p.GetValue(OracleOption),
                RetrainOnValidation = p.GetValue(RetrainOption),
            };
            if (p.GetValue(RecordOption) is { } record)
            {
                string dir = MainTable.OutputDirectory(options, ctx);
                int n = StoppingEpochs.WriteRecord(dir, record, $"the finished runs of `lrml reproduce main-table --profile {options.Profile.Name}`");
                AnsiConsole.MarkupLineInterpolated($"Recorded the stopping epochs of {n} run(s) under {dir} in {record}");
                return 0;
            }
            AnsiConsole.MarkupLine($"[bold]Main results[/], profile {options.Profile.Name}, models {string.Join(", ", MainTable.ModelsFor(options))}");
            if (options.Profile.Name == "full" || p.GetValue(EstimateOption)) SayEstimate(MainTable.Estimate(options, ctx));
            if (p.GetValue(EstimateOption)) return 0;
            var backend = BackendFrom(p);
            MainTableReport report;
            try { report = MainTable.Run(options, ctx, backend); }
            catch (Lrml.Reproduction.Backends.RunsOutstandingException e) { return BackendOptions.Report(e, backend); }
            TableRendering.Write(report.Table);
            TableRendering.Write(report.Headline);
            TableRendering.Write(report.Significance);
            if (report.Verdict is not null) TableRendering.Write(report.Verdict);
            if (report.Oracle is not null) TableRendering.Write(report.Oracle);
            if (report.Retrained is not null) TableRendering.Write(report.Retrained);
            SayFindings(report.Findings(), report.OutputDirectory, report.ChartFiles);
            return BackendOptions.ReportMissing(report.Missing, collecting: p.GetValue(CollectOption));
        }));
        cmd.Subcommands.Add(main);

        var ablations = new Command("ablations", "One-factor LRML ablations: memory slots N, dimension d, margin, distance, negative relation, norm constraint, trained vs frozen memory, and the options that make the memory used (attention temperature, memory init scale and learning rate, WARP rank weighting, bundles); each with the memory usage of its runs.");
        var only = new Option<string[]>("--only") { Description = "Ablations to run: slots, dim, margin, distance, negative-relation, norm, memory, temperature, memory-init, memory-lr, rank-weighting, used-memory", AllowMultipleArgumentsPerToken = true };
        ablations.Options.Add(only);
        AddBackendOptions(ablations);
        ablations.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver());
            var datasets = DatasetsOf(p);
            var options = new AblationOptions
            {
                Profile = Lrml.Reproduction.Profile.Get(p.GetValue(ProfileOption)!),
                Dataset = datasets?.FirstOrDefault(),
                Only = Split(p.GetValue(only)),
                Seeds = p.GetValue(SeedsOption),
                Threads = BackendOptions.RunThreads(p),
            };
            if (options.Profile.Name == "full" || p.GetValue(EstimateOption)) SayEstimate(Ablations.Estimate(options, ctx));
            if (p.GetValue(EstimateOption)) return 0;
            var backend = BackendFrom(p);
            AblationReport report;
            try { report = Ablations.Run(options, ctx, backend); }
            catch (Lrml.Reproduction.Backends.RunsOutstandingException e) { return BackendOptions.Report(e, backend); }
            foreach (var r in report.Results) TableRendering.Write(r.Table);
            TableRendering.Write(Ablations.UsageTable(report));
            SayFindings(report.Findings(), report.OutputDirectory, report.ChartFiles);
            return BackendOptions.ReportMissing(report.Missing, collecting: p.GetValue(CollectOption));
        }));
        cmd.Subcommands.Add(ablations);

        var dynamics = new Command("dynamics", "Training dynamics and cost: loss and validation curves per model; LRML seconds per epoch, evaluation time and memory as N and d grow.");
        dynamics.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver());
            var options = new DynamicsOptions
            {
                Profile = Lrml.Reproduction.Profile.Get(p.GetValue(ProfileOption)!),
                Dataset = DatasetsOf(p)?.FirstOrDefault(),
                Threads = p.GetValue(CommonOptions.Threads),
            };
            if (options.Profile.Name == "full" || p.GetValue(EstimateOption)) SayEstimate(Dynamics.Estimate(options, ctx));
            if (p.GetValue(EstimateOption)) return 0;
            var report = Dynamics.Run(options, ctx);
            TableRendering.Write(report.Cost);
            SayFindings(report.Findings(), report.OutputDirectory, report.ChartFiles);
            return 0;
        }));
        cmd.Subcommands.Add(dynamics);

        var relations = new Command("relations", "What the relations learned: k-NN probes of rating, time and genre from r(u,i) and a(u,i) against shuffled labels, slot alignment, PCA/t-SNE projections, attention heat maps.");
        var relationSettings = new Option<string[]>("--set", "-s") { Description = "LRML setting key=value over the dataset's preset (repeatable), e.g. --set attention_temperature=0.01: analyse a model whose memory is used", AllowMultipleArgumentsPerToken = true };
        relations.Options.Add(relationSettings);
        relations.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            var ctx = CommonOptions.Context(p, new ConsoleObserver());
            var profile = Lrml.Reproduction.Profile.Get(p.GetValue(ProfileOption)!);
            var requested = DatasetsOf(p) ?? [Relations.DefaultDataset(new RelationOptions(), ctx), "synthetic"];
            foreach (var dataset in requested.Distinct())
            {
                var report = Relations.Run(new RelationOptions
                {
                    Profile = profile, Dataset = dataset, Threads = p.GetValue(CommonOptions.Threads),
                    Settings = Lrml.Models.ConfigBinder.ParsePairs(p.GetValue(relationSettings) ?? []),
                }, ctx);
                TableRendering.Write(report.Probes);
                TableRendering.Write(report.SlotAlignment);
                foreach (var f in report.Findings) AnsiConsole.MarkupLine(Markup.Escape("• " + f));
                AnsiConsole.MarkupLine($"Tables and charts written to [bold]{Markup.Escape(report.OutputDirectory)}[/]");
            }
            return 0;
        }));
        cmd.Subcommands.Add(relations);
        return cmd;
    }

    private static void AddBackendOptions(Command cmd)
    {
        cmd.Options.Add(CollectOption);
        foreach (var o in BackendOptions.All) cmd.Options.Add(o);
    }

    /// <summary>--collect (only load what finished), else the backend of --backend.</summary>
    private static Lrml.Reproduction.Backends.IRunBackend BackendFrom(ParseResult p)
    {
        if (!p.GetValue(CollectOption)) return BackendOptions.From(p);
        if (p.GetResult(BackendOptions.Backend) is { Implicit: false })
            throw new ArgumentException("--collect trains and submits nothing: drop --backend (collecting reads the runs that finished wherever they ran).");
        if (p.GetResult(BackendOptions.Jobs) is { Implicit: false })
            throw new Lrml.Models.SettingException("--collect trains nothing: drop --jobs.");
        return Lrml.Reproduction.Backends.CollectBackend.Instance;
    }

    private static void SayEstimate(DurationEstimate estimate)
    {
        TableRendering.Write(estimate.Table);
        AnsiConsole.MarkupLine($"[bold]≈ at most {Markup.Escape(DurationEstimate.Format(estimate.Total))}, expected {Markup.Escape(DurationEstimate.Format(estimate.Expected))}[/] {Markup.Escape(estimate.Summary)}");
    }

    private static void SayFindings(Findings findings, string outputDirectory, IReadOnlyList<string> charts)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(findings.Title)}[/]");
        foreach (var point in findings.Points) AnsiConsole.MarkupLine("  • " + Markup.Escape(point.Replace("**", "", StringComparison.Ordinal)));
        AnsiConsole.MarkupLine($"Tables, findings.md and {charts.Count} chart file(s) (HTML{(charts.Any(c => c.EndsWith(".png", StringComparison.Ordinal)) ? ", PNG" : "")}) " +
                               $"written to [bold]{Markup.Escape(outputDirectory)}[/]");
    }

    /// <summary>The --datasets, files of one's own resolved to dataset names.</summary>
    private static IReadOnlyList<string>? DatasetsOf(ParseResult p) => DatasetOptions.ResolveAll(p, Split(p.GetValue(DatasetsOption)));

    private static IReadOnlyList<string>? Split(string[]? values) =>
        values is null || values.Length == 0 ? null
            : values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
}
