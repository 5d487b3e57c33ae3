using System.CommandLine;
using System.Globalization;
using Lrml.Experiments;
using Lrml.Training;
using Spectre.Console;

using Lrml.Models;

namespace Lrml.Cli;

/// <summary>`lrml train`: one run of one model on one dataset under one protocol.</summary>
internal static class TrainCommand
{
    public static readonly Option<string> Dataset = new("--dataset", "-d") { Description = "The dataset: " + DatasetOptions.Help, DefaultValueFactory = _ => "synthetic" };
    public static readonly Option<string?> Protocol = new("--protocol", "-p") { Description = "leave-last-out | random-leave-one-out | ncf | ratio | global-temporal (default: the dataset's)" };
    public static readonly Option<string> Model = new("--model", "-m") { Description = "Model name (lrml models)", DefaultValueFactory = _ => "lrml" };
    public static readonly Option<string[]> Set = new("--set", "-s") { Description = "Model setting key=value (repeatable), e.g. --set dim=64 --set distance=squared-l2", AllowMultipleArgumentsPerToken = true };
    public static readonly Option<string?> Engine = new("--engine") { Description = "fused (CPU fast path, the default on a CPU for every trained model but CML with a covariance penalty (covariance_weight > 0) and pre-trained NeuMF, which train on torch) | torch (TorchSharp reference; CPU or CUDA)" };
    public static readonly Option<int> Epochs = new("--epochs", "-e") { Description = "Maximum epochs", DefaultValueFactory = _ => new TrainConfig().Epochs };
    public static readonly Option<int> BatchSize = new("--batch-size") { Description = "Positives per batch", DefaultValueFactory = _ => new TrainConfig().BatchSize };
    public static readonly Option<int> Negatives = new("--negatives") { Description = "Sampled negatives per positive in training", DefaultValueFactory = _ => 1 };
    public static readonly Option<int> Patience = new("--patience") { Description = "Early-stopping patience in evaluations (0 = off)", DefaultValueFactory = _ => new TrainConfig().Patience };
    public static readonly Option<int> EvalEvery = new("--eval-every") { Description = "Validate every N epochs", DefaultValueFactory = _ => 1 };
    public static readonly Option<string> ValidationMetric = new("--validation-metric") { Description = "Metric that selects the best epoch", DefaultValueFactory = _ => "nDCG@10" };
    public static readonly Option<long> Seed = new("--seed") { Description = "Run seed (initialisation, shuffling, negatives)", DefaultValueFactory = _ => 1 };
    public static readonly Option<long> SplitSeed = new("--split-seed") { Description = "Seed of the split and its frozen candidates (fixed across runs)", DefaultValueFactory = _ => new RunSpec { Dataset = "", Model = "" }.SplitSeed };
    public static readonly Option<int?> SampledNegatives = new("--sampled-negatives") { Description = "Frozen sampled candidates per held-out item (default: 99 for ncf, as its published negatives; 100 otherwise)" };
    public static readonly Option<string?> Preset = new("--preset") { Description = "tuned: start from the validation-chosen settings and training options of presets.json for this dataset and model (what lrml reproduce runs); --set and explicit options override them" };
    public static readonly Option<string> Device = new("--device") { Description = "cpu | cuda | cuda:N — the TorchSharp engine's device (CUDA needs the CUDA build: dotnet build -p:TorchBackend=cuda, see environment.md); the fused engine is CPU only", DefaultValueFactory = _ => "cpu" };
    public static readonly Option<string?> Ks = new("--ks") { Description = "Metric cut-offs, comma-separated (HR@k, nDCG@k, … for each), e.g. --ks 5,10,20 (default: 10)" };
    public static readonly Option<bool> Oracle = new("--oracle-epoch") { Description = "Also evaluate test after every epoch and show, beside the honest result, what choosing the epoch on test would report (never used for any choice)" };
    public static readonly Option<bool> Retrain = new("--retrain-on-validation") { Description = "After training, retrain on train + validation for the validation-chosen epochs and show its test metrics beside the honest ones (Rendle et al. 2019)" };
    public static readonly Option<bool> NoFull = new("--no-full-ranking") { Description = "Skip full-ranking test metrics" };
    public static readonly Option<string?> Out = new("--out", "-o") { Description = "Run directory (default: results/runs/<dataset>/<protocol>/<model>-seed<seed>-<time>)" };
    public static readonly Option<bool> Overwrite = new("--overwrite") { Description = "Replace an existing run directory: the new run is trained beside it and replaces it only once finished" };
    public static readonly Option<bool> Resume = new("--resume") { Description = "Continue the interrupted run in --out from its checkpoint (same options as the original command)" };
    public static readonly Option<int> CheckpointEvery = new("--checkpoint-every") { Description = "Also checkpoint every N batches inside an epoch (0 = at epoch ends only)", DefaultValueFactory = _ => 0 };
    public static readonly Option<float?> Lr = new("--lr") { Description = "Shortcut for --set learning_rate=…" };
    public static readonly Option<int?> Dim = new("--dim") { Description = "Shortcut for --set dim=…" };
    public static readonly Option<int?> Slots = new("--slots") { Description = "Shortcut for --set slots=… (LRML memory slots N)" };
    public static readonly Option<float?> Margin = new("--margin") { Description = "Shortcut for --set margin=…" };
    public static readonly Option<string?> Config = new("--config") { Description = "Run the configuration in this JSON file: a run directory's config.json (written by every run: its effective, complete configuration, so `--config RUN/config.json` repeats that run with the same identity) or one written by hand with any of its keys. Options given on the command line override the file; the defaults apply to what neither says" };
    public static readonly Option<string?> SpecFile = new("--spec") { Description = "Run exactly the run spec in this file (what --backend slurm writes, one per array task) into its run directory (or --out): a finished run is reused, an interrupted one resumes from its checkpoint" };

    public static Command Build()
    {
        var cmd = new Command("train", "Train one model and evaluate it (sampled and full-ranking test metrics); writes a run directory with result.json.");
        foreach (var o in new Option[] { Dataset, Protocol, Model, Set, Engine, Epochs, BatchSize, Negatives, Patience, EvalEvery, ValidationMetric,
                     Seed, SplitSeed, SampledNegatives, Preset, Ks, Device, NoFull, Oracle, Retrain, Out, Overwrite, Resume, CheckpointEvery, Lr, Dim, Slots, Margin, Config, CommonOptions.KeepCheckpoints, SpecFile })
            cmd.Options.Add(o);
        DatasetOptions.AddTo(cmd);
        cmd.SetAction(p => LrmlCommandLine.Guard(() =>
        {
            if (p.GetValue(SpecFile) is string specFile) return RunSpecFile(p, cmd, specFile);
            var file = ConfigOf(p);
            var spec = SpecFrom(p, file);
            var observer = new ConsoleObserver();
            if (PresetOf(p, spec.Model) is { } preset)
                observer.Message($"Preset tuned for {preset.Model} on {preset.Dataset}: " +
                                 string.Join(", ", preset.Settings.Concat(preset.Train).Select(kv => $"{kv.Key}={kv.Value}")) +
                                 $" ({preset.ChosenBy}); options given on the command line override it.");
            var ctx = CommonOptions.Context(p, observer, p.GetValue(Overwrite), file?.KeepCheckpoints);
            string protocol = spec.Protocol ?? Experiment.DefaultProtocol(spec.Dataset, ctx);
            bool resume = p.GetValue(Resume);
            if (resume && p.GetValue(Out) is null) throw new ArgumentException("--resume needs --out DIR, the directory of the interrupted run.");
            string dir = p.GetValue(Out) is string o ? Path.GetFullPath(o) : Experiment.DefaultRunDirectory(spec, protocol, ctx);
            var outcome = Experiment.Run(spec, ctx, dir, resume);
            Render(outcome.Result);
            AnsiConsole.MarkupLine($"Run directory: [bold]{Markup.Escape(dir)}[/]");
            return 0;
        }));
        return cmd;
    }

    /// <summary>`train --spec FILE`: one run of a spec file through <see cref="RunStore.RunOrLoad"/>, as a sweep or a
    /// reproduction would run it here (the array task of a Slurm job). A diverged run leaves diverged.json for the submitter.</summary>
    private static int RunSpecFile(ParseResult p, Command cmd, string path)
    {
        var others = cmd.Options.Where(o => o != SpecFile && o != Out && o != CommonOptions.KeepCheckpoints && p.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        if (others.Count > 0)
            throw new ArgumentException($"--spec runs exactly the spec in its file: {string.Join(", ", others)} cannot be combined with it.");
        if (Environment.GetEnvironmentVariable(Lrml.Reproduction.Backends.JobsBackend.ParentVariable) == "1")
            new Thread(() =>                                                 // a --jobs child ends with its parent (stdin closes)
            {
                try { while (Console.In.Read() >= 0) { } } catch (IOException) { }
                Console.Error.WriteLine("lrml: the --jobs parent process is gone: stopping (the run resumes from its checkpoint next time).");
                Environment.Exit(1);
            }) { IsBackground = true }.Start();
        var file = Lrml.Reproduction.Backends.RunSpecFile.Load(Path.GetFullPath(path));
        ModelRegistry.Get(file.Spec.Model).CheckSettings(file.Spec.Settings);
        var ctx = CommonOptions.Context(p, new ConsoleObserver(), file.Overwrite, file.KeepCheckpoints);
        string dir = p.GetValue(Out) is string o ? Path.GetFullPath(o) : file.RunDirectory;
        StoredRun run;
        try { run = RunStore.RunOrLoad(file.Spec, ctx, dir); }
        catch (TrainingDivergedException ex)
        {
            Lrml.Reproduction.Backends.RunEnd.WriteDiverged(dir, file.Spec, ctx, ex);
            throw;
        }
        Render(run.Result);
        AnsiConsole.MarkupLine($"Run directory: [bold]{Markup.Escape(dir)}[/]");
        return 0;
    }

    /// <summary>The --device value, checked before any data is loaded: "cpu", "cuda" or "cuda:N"; CUDA must be available
    /// in this build (the default build carries TorchSharp's CPU natives), and the fused engine runs on the CPU only.</summary>
    internal static string CheckDevice(string device, string? engine, Func<bool>? cudaAvailable = null)
    {
        string d = device.Trim().ToLowerInvariant();
        if (d == "cpu") return d;
        if (!System.Text.RegularExpressions.Regex.IsMatch(d, @"^cuda(:\d+)?$"))
            throw new SettingException($"--device {device}: not a device; use cpu, cuda or cuda:N.");
        if (string.Equals(engine, "fused", StringComparison.OrdinalIgnoreCase))
            throw new SettingException($"--device {device} with --engine fused: the fused engine runs on the CPU only; use --engine torch.");
        if (!(cudaAvailable ?? (() => TorchSharp.torch.cuda.is_available()))())
            throw new SettingException($"--device {device}: CUDA is not available here — this build uses TorchSharp's CPU natives, or the machine has " +
                                       "no usable GPU. Build with `dotnet build -c Release -p:TorchBackend=cuda` on a CUDA machine (environment.md).");
        return d;
    }

    /// <summary>The cut-offs of --ks ("5,10,20": distinct, ascending), checked before any data is loaded; they must include
    /// the validation metric's own cut-off. Null keeps the default (10).</summary>
    internal static int[] CutOffs(string? text, string validationMetric)
    {
        if (text is null) return new RunSpec { Dataset = "", Model = "" }.Ks;
        var ks = new SortedSet<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int k) || k < 1)
                throw new SettingException($"--ks {text}: '{part}' is not a cut-off (a whole number ≥ 1); e.g. --ks 5,10,20.");
            ks.Add(k);
        }
        int at = validationMetric.LastIndexOf('@');
        if (at >= 0 && int.TryParse(validationMetric[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int vk) && !ks.Contains(vk))
            throw new SettingException($"--ks {text} leaves out {vk}, the cut-off of the validation metric {validationMetric}: add it, or choose another --validation-metric.");
        return ks.ToArray();
    }

    /// <summary>Builds a run spec from the parsed options. The model settings (--set and the shortcuts) are bound to the
    /// model's config record and validated here, once, before any data is loaded: a bad key or value is a one-line
    /// <see cref="SettingException"/> naming it (exit code 2).</summary>
    public static RunSpec SpecFrom(ParseResult p) => SpecFrom(p, ConfigOf(p));

    /// <summary>The --config file, read and checked before any data is loaded (null without --config).</summary>
    internal static RunConfigFile.File? ConfigOf(ParseResult p)
    {
        if (p.GetValue(Config) is not string path) return null;
        if (p.GetValue(Preset) is not null)
            throw new SettingException("--preset cannot be combined with --config: the config file holds the run's settings (a run's config.json has its preset's values).");
        return RunConfigFile.Load(path, Given(p, Model) ? p.GetValue(Model) : null, p.GetValue(Model)!);
    }

    /// <summary>Whether the command line gives <paramref name="o"/> (not its default).</summary>
    private static bool Given(ParseResult p, Option o) => p.GetResult(o) is { Implicit: false };

    /// <summary>The run spec of the options over a --config <paramref name="file"/>: an option given on the command line wins,
    /// then what the file says, then the option's default.</summary>
    internal static RunSpec SpecFrom(ParseResult p, RunConfigFile.File? file)
    {
        T Pick<T>(Option<T> o, object? fromFile) => fromFile is not null && !Given(p, o) ? (T)fromFile : p.GetValue(o)!;
        string model = Pick(Model, file?.Model);
        List<KeyValuePair<string, string>> settings;
        try { settings = ConfigBinder.ParsePairs(p.GetValue(Set) ?? []); }
        catch (ArgumentException e) { throw new SettingException(e.Message, e); }
        void Shortcut<T>(Option<T?> o, System.Linq.Expressions.Expression<Func<LrmlConfig, object?>> key) where T : struct
        {
            if (p.GetValue(o) is T v) settings.Add(ConfigBinder.Pair(key, Convert.ToString(v, CultureInfo.InvariantCulture)!));
        }
        // keys named through LRML's record (the default model); every other record with these settings uses the same names
        Shortcut(Lr, c => c.LearningRate);
        Shortcut(Dim, c => c.Dim);
        Shortcut(Slots, c => c.Slots);
        Shortcut(Margin, c => c.Margin);
        var preset = PresetOf(p, model);
        var underneath = preset?.Settings ?? file?.Settings;   // what the command line's settings override
        if (underneath is not null) settings = [.. underneath.Where(kv => !settings.Any(s => ConfigBinder.Normalise(s.Key) == ConfigBinder.Normalise(kv.Key))), .. settings];
        ModelRegistry.Get(model).CheckSettings(settings);
        var train = new TrainConfig
        {
            Epochs = p.GetValue(Epochs), BatchSize = p.GetValue(BatchSize), NegativesPerPositive = p.GetValue(Negatives),
            Patience = p.GetValue(Patience), EvalEvery = p.GetValue(EvalEvery), ValidationMetric = p.GetValue(ValidationMetric)!,
            Seed = p.GetValue(Seed), Threads = p.GetValue(CommonOptions.Threads),
        };
        var trainUnderneath = preset?.Train ?? file?.Train;
        if (trainUnderneath is not null)
        {
            try { train = ConfigBinder.Apply(train, trainUnderneath.Where(kv => !ExplicitTrainOption(p, kv.Key)).ToList()); }
            catch (ArgumentException e) { throw new SettingException(e.Message, e); }
        }
        string? engine = Pick(Engine, file?.Engine);
        return new RunSpec
        {
            Dataset = DatasetOptions.Resolve(p, Pick(Dataset, file?.Dataset)),
            Protocol = Pick(Protocol, file?.Protocol),
            Model = model,
            // the validated settings travel as key=value text: the run identity's stable representation (RunIdentity hashes it)
            Settings = settings,
            Engine = engine,
            SplitSeed = Pick(SplitSeed, file?.SplitSeed),
            SampledNegatives = Pick(SampledNegatives, file?.SampledNegatives),
            FullRanking = Given(p, NoFull) || file?.FullRanking is null ? !p.GetValue(NoFull) : file.FullRanking.Value,
            SampledValidation = file?.SampledValidation ?? true,
            Ks = CutOffs(Given(p, Ks) || file?.Ks is null ? p.GetValue(Ks) : string.Join(",", file.Ks), train.ValidationMetric),
            Device = CheckDevice(Pick(Device, file?.Device), engine),
            CheckpointEverySteps = Pick(CheckpointEvery, file?.CheckpointEvery),
            OracleEpoch = Given(p, Oracle) || file?.OracleEpoch is null ? p.GetValue(Oracle) : file.OracleEpoch.Value,
            RetrainOnValidation = Given(p, Retrain) || file?.RetrainOnValidation is null ? p.GetValue(Retrain) : file.RetrainOnValidation.Value,
            Train = train,
        };
    }

    /// <summary>The preset --preset names for the run's dataset and model (the dataset's entry, else the model's default
    /// entry), or null without --preset.</summary>
    internal static Lrml.Reproduction.Preset? PresetOf(ParseResult p, string model)
    {
        if (p.GetValue(Preset) is not string name) return null;
        if (!string.Equals(name, "tuned", StringComparison.OrdinalIgnoreCase))
            throw new SettingException($"--preset {name}: the only preset is 'tuned' (the validation-chosen settings of presets.json).");
        string canonical = ModelRegistry.Get(model).Name;
        if (!Lrml.Reproduction.Presets.Models.Contains(canonical))
            throw new SettingException($"--preset tuned: presets.json has no entry for model '{canonical}'.");
        return Lrml.Reproduction.Presets.Get(canonical, Lrml.Data.Datasets.Get(DatasetOptions.Resolve(p, p.GetValue(Dataset)!)).Name);
    }

    /// <summary>Whether the command line sets the training option a presets.json or config file's train key names (then it wins).</summary>
    private static bool ExplicitTrainOption(ParseResult p, string key)
    {
        string n = ConfigBinder.Normalise(key);
        bool Is(System.Linq.Expressions.Expression<Func<TrainConfig, object?>> property) => ConfigBinder.Normalise(ConfigBinder.Key(property)) == n;
        Option? option = Is(t => t.Epochs) ? Epochs : Is(t => t.BatchSize) ? BatchSize : Is(t => t.NegativesPerPositive) ? Negatives
            : Is(t => t.Patience) ? Patience : Is(t => t.EvalEvery) ? EvalEvery : Is(t => t.ValidationMetric) ? ValidationMetric
            : Is(t => t.Seed) ? Seed : Is(t => t.Threads) ? CommonOptions.Threads : null;
        return option is not null && p.GetResult(option) is { Implicit: false };
    }

    /// <summary>Prints a run's result table.</summary>
    public static void Render(RunResult r)
    {
        var table = new Table().Title($"{r.Model} on {r.Dataset} ({r.Protocol}), seed {r.Seed}").AddColumns("metric", "test", "validation (best epoch)");
        var oracle = r.OracleTestMetrics;
        if (oracle is not null) table.AddColumn($"test at the oracle epoch {r.OracleEpoch} (chosen on test: optimistic)");
        var retrained = r.RetrainedTestMetrics;
        if (retrained is not null) table.AddColumn($"test retrained on train + validation ({r.BestEpoch} epochs)");
        foreach (var (k, v) in r.Metrics)
        {
            var cells = new List<string> { k, v.ToString("F4", CultureInfo.InvariantCulture),
                r.ValidationMetrics.TryGetValue(k, out double val) ? val.ToString("F4", CultureInfo.InvariantCulture) : "" };
            if (oracle is not null)
                cells.Add(oracle.TryGetValue(k, out double o) ? string.Create(CultureInfo.InvariantCulture, $"{o:F4} ({o - v:+0.0000;-0.0000;0.0000})") : "");
            if (retrained is not null)
                cells.Add(retrained.TryGetValue(k, out double t) ? string.Create(CultureInfo.InvariantCulture, $"{t:F4} ({t - v:+0.0000;-0.0000;0.0000})") : "");
            table.AddRow(cells.ToArray());
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"epochs {r.Epochs} (best {r.BestEpoch}{(r.StoppedEarly ? ", stopped early" : "")}), " +
                               $"train {r.TrainSeconds:F1}s ({r.SecondsPerEpoch:F2}s/epoch), eval {r.EvalSeconds:F1}s, peak memory {r.PeakMemoryMb:F0} MB, " +
                               $"{r.Threads} threads, commit {Markup.Escape(r.Commit[..Math.Min(12, r.Commit.Length)])}");
    }
}
