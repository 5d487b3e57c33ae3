using System.Text.Json.Nodes;
using Lrml.Cli;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Tests.Robustness;

namespace Lrml.Tests.Cli;

/// <summary>`lrml train --config FILE`: a run's config.json is its effective, complete configuration and repeats the run
/// with the same identity; command-line options override the file; a bad file fails before any data is read.</summary>
public sealed class RunConfigTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lrml-runcfg").FullName;
    private ExperimentContext Context => new() { Data = new DataDirectory(Path.Combine(_root, "no-data")), ResultsRoot = _root };

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static RunSpec Spec(params string[] args) => TrainCommand.SpecFrom(LrmlCommandLine.Build().Parse(["train", .. args]));

    private static readonly string[] Original =
    [
        "-d", "synthetic", "-m", "lrml", "--engine", "torch", "--set", "dim=8", "--set", "learning-rate=0.01", "--slots", "3",
        "--epochs", "2", "--batch-size", "128", "--negatives", "2", "--patience", "1", "--seed", "7", "--threads", "1",
        "--split-seed", "3", "--sampled-negatives", "50", "--ks", "5,10", "--no-full-ranking", "--checkpoint-every", "5",
    ];

    [Fact]
    public void ARunRepeatsFromItsOwnConfigJsonWithTheSameIdentityAndNumbers()
    {
        var spec = Spec(Original);
        string dir = Path.Combine(_root, "run");
        var first = Experiment.Run(spec, Context, dir);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        // complete: every option of the run, the effective protocol and negatives, and the resolved model
        Assert.Equal("synthetic", (string?)config["dataset"]);
        Assert.Equal("leave-last-out", (string?)config["protocol"]);
        Assert.Equal("lrml", (string?)config["model_name"]);
        Assert.Equal("torch", (string?)config["engine"]);
        Assert.Equal(3, (int)config["model"]!["slots"]!);
        Assert.Equal(20, (int)config["model"]!["warp_negatives"]!);      // a default, resolved
        Assert.Equal(2, (int)config["train"]!["negatives_per_positive"]!);
        Assert.Equal(50, (int)config["sampled_negatives"]!);
        Assert.False((bool)config["full_ranking"]!);
        Assert.Equal(5, (int)config["checkpoint_every"]!);

        var again = Spec("--config", Path.Combine(dir, "config.json"));
        Assert.Equal(RunIdentity.Of(spec, Context).Key, RunIdentity.Of(again, Context).Key);
        Assert.Equal(5, again.CheckpointEverySteps);
        var second = Experiment.Run(again, Context, Path.Combine(_root, "again"));
        Assert.Equal(first.Result.Metrics, second.Result.Metrics);
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "config.json")), File.ReadAllText(Path.Combine(_root, "again", "config.json")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "best.ckpt")), File.ReadAllBytes(Path.Combine(_root, "again", "best.ckpt")));
    }

    /// <summary>A run on a data file of one's own repeats from its config.json in a fresh process: the file records the data file
    /// and its format (dataset_file), and reading the config registers that dataset under its name, with the same identity.</summary>
    [Fact]
    public void ARunOnOwnDataRepeatsFromItsConfigJson()
    {
        string csv = Path.Combine(_root, "own.csv");
        File.WriteAllLines(csv, ["user,item,rating", .. Enumerable.Range(0, 30).SelectMany(u => Enumerable.Range(0, 6).Select(j => $"u{u},i{(u * 7 + j * 3) % 25},{1 + j % 5}"))]);
        var spec = Spec("-d", csv, "--header", "--columns", "user,item,rating", "-m", "bpr", "--epochs", "1", "--threads", "1", "--set", "dim=4");
        string dir = Path.Combine(_root, "own-run");
        Experiment.Run(spec, Context, dir);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        Assert.Equal(csv, (string?)config["dataset_file"]!["file"]);
        Assert.Equal(["user", "item", "rating"], config["dataset_file"]!["columns"]!.AsArray().Select(c => (string)c!));
        var again = Spec("--config", Path.Combine(dir, "config.json"));
        Assert.Equal(RunIdentity.Of(spec, Context).Key, RunIdentity.Of(again, Context).Key);
        // the same config under another dataset name registers that name for this process (what a fresh process does)
        config["dataset_file"]!["name"] = "own-copy";
        config["dataset"] = "own-copy";
        string copy = Path.Combine(_root, "copy.json");
        File.WriteAllText(copy, config.ToJsonString());
        Assert.Equal("own-copy", Spec("--config", copy).Dataset);
        Assert.Equal(csv, Datasets.Get("own-copy").Own!.File);
    }

    [Fact]
    public void CommandLineOptionsOverrideTheFileAndEditsToItsModelSectionApply()
    {
        string dir = Path.Combine(_root, "run");
        Experiment.Run(Spec(Original), Context, dir);
        string path = Path.Combine(dir, "config.json");
        var spec = Spec("--config", path, "--epochs", "4", "--set", "dim=16", "--threads", "2", "--ks", "10", "--batch-size", "64");
        Assert.Equal((4, 64, 2), (spec.Train.Epochs, spec.Train.BatchSize, spec.Train.Threads));
        Assert.Equal((7L, 1, 2), (spec.Train.Seed, spec.Train.Patience, spec.Train.NegativesPerPositive));   // from the file
        Assert.Equal([10], spec.Ks);
        Assert.Equal("16", spec.Settings.Last(kv => kv.Key == "dim").Value);
        Assert.DoesNotContain(spec.Settings, kv => kv.Key == "dim" && kv.Value == "8");
        Assert.Equal("3", spec.Settings.Single(kv => kv.Key == "slots").Value);
        Assert.Equal("torch", spec.Engine);

        // an edited value in the resolved model section takes effect (it is not ignored for the given settings)
        var config = JsonNode.Parse(File.ReadAllText(path))!;
        config["model"]!["margin"] = 0.75;
        config["model"]!["slots"] = 5;
        File.WriteAllText(path, config.ToJsonString());
        var edited = Spec("--config", path);
        var model = Lrml.Models.ConfigBinder.Bind<Lrml.Models.LrmlConfig>(edited.Settings);
        Assert.Equal((0.75f, 5, 8), (model.Margin, model.Slots, model.Dim));
        Assert.NotEqual(RunIdentity.Of(Spec(Original), Context).Key, RunIdentity.Of(edited, Context).Key);
    }

    [Fact]
    public void AHandWrittenConfigSetsOnlyWhatItSaysTheRestIsTheDefault()
    {
        string path = Path.Combine(_root, "run.json");
        File.WriteAllText(path, """{"dataset": "synthetic", "model_name": "bpr", "settings": {"dim": 4}, "train": {"epochs": 3}, "ks": [20, 5, 10]}""");
        var spec = Spec("--config", path);
        Assert.Equal(("synthetic", "bpr", 3), (spec.Dataset, spec.Model, spec.Train.Epochs));
        Assert.Equal(new Lrml.Training.TrainConfig().BatchSize, spec.Train.BatchSize);
        Assert.Equal([5, 10, 20], spec.Ks);
        Assert.Equal("4", Assert.Single(spec.Settings).Value);
        Assert.True(spec.FullRanking);
        Assert.Equal(Spec("-d", "synthetic", "-m", "bpr", "--set", "dim=4", "-e", "3", "--ks", "5,10,20").Train, spec.Train);
    }

    [Theory]
    [InlineData("""{"datset": "ml-100k"}""", "datset: unknown key")]
    [InlineData("""{"train": {"epochs": 0}}""", "train.epochs: Epochs must be ≥ 1 (got 0)")]
    [InlineData("""{"train": {"epochs": "many"}}""", "train.epochs:")]
    [InlineData("""{"train": {"epoch": 3}}""", "train.epoch: Unknown setting 'epoch'")]
    [InlineData("""{"ks": [5, "a"]}""", "ks: \"a\" is not a cut-off")]
    [InlineData("""{"full_ranking": "yes"}""", "full_ranking: expects true or false")]
    [InlineData("""{"sampled_negatives": 0}""", "sampled_negatives: must be ≥ 1")]
    [InlineData("""{"model_name": "lrml", "model": {"dimm": 3}}""", "model.dimm: lrml has no such setting")]
    [InlineData("""{"model_name": "lrml", "settings": {"dim": "x"}}""", "settings/model: LrmlConfig.dim expects a number, got 'x'")]
    [InlineData("""{"model_name": "lrml", "model": {"engine": "torch"}}""", "model.engine: is \"torch\" but the run's engine is 'fused'")]
    [InlineData("""{"model_name": "pop", "engine": "fused"}""", "engine: pop has no engine 'fused'")]
    [InlineData("""{"model_name": "nope"}""", "model_name: Unknown model 'nope'")]
    [InlineData("""{"dataset": """, ":1: not valid JSON")]
    public void ABadFileIsOneErrorNamingTheFileAndTheKey(string json, string expected)
    {
        string path = Path.Combine(_root, "bad.json");
        File.WriteAllText(path, json);
        var e = Assert.ThrowsAny<ArgumentException>(() => Spec("--config", path));
        Assert.StartsWith(path, e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void TheFileIsCheckedBeforeAnyDataIsReadExitCode2()
    {
        string path = Path.Combine(_root, "bad.json");
        File.WriteAllText(path, """{"dataset": "ml-100k", "train": {"epochs": -1}}""");
        // the data folder is missing: a data read would be a different error
        var (code, o, e) = CliRunner.Run(_root, "train", "--config", path);
        Assert.Equal(2, code);
        Assert.Equal($"error: {path}: train.epochs: Epochs must be ≥ 1 (got -1).", CliRunner.SingleErrorLine(o, e));
        Assert.Contains("Options given on the command line override the file", System.Text.RegularExpressions.Regex.Replace(CliRunner.Run(_root, "train", "--help").Stdout, @"\s+", " "));
    }

    [Fact]
    public void ConflictsAreRefused()
    {
        string path = Path.Combine(_root, "cml.json");
        File.WriteAllText(path, """{"model_name": "cml", "settings": {"dim": 8}}""");
        Assert.Contains("--model lrml differs from the model of", Assert.ThrowsAny<ArgumentException>(() => Spec("--config", path, "-m", "lrml")).Message);
        Assert.Contains("--preset cannot be combined with --config",
            Assert.ThrowsAny<ArgumentException>(() => Spec("--config", path, "-d", "ml-100k", "--preset", "tuned")).Message);
        Assert.Contains("no such file", Assert.ThrowsAny<ArgumentException>(() => Spec("--config", Path.Combine(_root, "missing.json"))).Message);
    }

    [Fact]
    public void AnExplicitBatchSizeOverridesThePresetsToo()
    {
        // presets.json names it batch_size: the command line's --batch-size must still win
        Assert.Equal(64, Spec("-d", "ml-100k", "-m", "bpr", "--preset", "tuned", "--batch-size", "64").Train.BatchSize);
    }
}
