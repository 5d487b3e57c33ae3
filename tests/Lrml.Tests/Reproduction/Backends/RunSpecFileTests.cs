using System.Text.Json.Nodes;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Reproduction.Backends;
using Lrml.Tests.Robustness;
using Lrml.Training;

namespace Lrml.Tests.Reproduction.Backends;

/// <summary>The per-run spec file a cluster task reads, and `lrml train --spec` that runs it.</summary>
[Collection("Torch models")]
public class RunSpecFileTests
{
    private static RunSpec Spec(long seed = 3) => new()
    {
        Dataset = "synthetic", Protocol = "leave-last-out", Model = "bpr", Engine = null,
        Settings = [new("learning_rate", "3e-3"), new("Dim", "16"), new("l2", "1e-3")],
        Train = new TrainConfig { Epochs = 2, BatchSize = 512, NegativesPerPositive = 2, Patience = 0, Seed = seed, Threads = 1, EvalEvery = 1 },
        SplitSeed = 77, SampledNegatives = 50, FullRanking = false, SampledValidation = true, Ks = [5, 10], CheckpointEverySteps = 7,
    };

    [Fact]
    public void ASpecRoundTripsThroughItsJsonWithTheSameKey()
    {
        var spec = Spec();
        var back = RunStore.SpecFromJson(RunStore.SpecJson(spec));
        Assert.Equal(RunStore.SpecKey(spec), RunStore.SpecKey(back));
        Assert.Equal(RunStore.SpecJson(spec).ToJsonString(), RunStore.SpecJson(back).ToJsonString());
        Assert.Equal(spec.Train, back.Train);
        Assert.Equal((spec.Dataset, spec.Protocol, spec.Model, spec.SplitSeed, spec.SampledNegatives, spec.FullRanking),
            (back.Dataset, back.Protocol, back.Model, back.SplitSeed, back.SampledNegatives, back.FullRanking));
        Assert.Equal(spec.Ks, back.Ks);
        Assert.Equal(0, back.CheckpointEverySteps);                                  // not part of the spec's identity

        string path = Path.Combine(Directory.CreateTempSubdirectory("lrml-specfile").FullName, "0.json");
        new RunSpecFile(spec, "/shared/run", Overwrite: true, KeepCheckpoints: true).Save(path);
        var file = RunSpecFile.Load(path);
        Assert.True(file.KeepCheckpoints);                                           // the submitter's --keep-checkpoints reaches the task
        Assert.Equal(RunStore.SpecKey(spec), RunStore.SpecKey(file.Spec));
        Assert.Equal(7, file.Spec.CheckpointEverySteps);                             // carried beside the spec
        Assert.Equal(("/shared/run", true), (file.RunDirectory, file.Overwrite));
        Assert.False(file.Spec.OracleEpoch || file.Spec.RetrainOnValidation);

        // the oracle-epoch and retrain flags are part of the run's identity but not of the spec's JSON: the file carries them,
        // so a task trains the run its submitter planned (e.g. reproduce main-table --oracle-epoch)
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(Path.GetDirectoryName(path)!, "no-data")), ResultsRoot = Path.GetDirectoryName(path)! };
        foreach (var flagged in new[] { spec with { OracleEpoch = true }, spec with { RetrainOnValidation = true } })
        {
            new RunSpecFile(flagged, "/shared/run", Overwrite: false).Save(path);
            var loaded = RunSpecFile.Load(path).Spec;
            Assert.Equal((flagged.OracleEpoch, flagged.RetrainOnValidation), (loaded.OracleEpoch, loaded.RetrainOnValidation));
            Assert.Equal(RunIdentity.Of(flagged, ctx).Key, RunIdentity.Of(loaded, ctx).Key);
            Assert.NotEqual(RunIdentity.Of(spec, ctx).Key, RunIdentity.Of(loaded, ctx).Key);
        }
    }

    [Fact]
    public void ABadOrForeignSpecFileIsRefusedNamingTheFileAndTheReason()
    {
        string dir = Directory.CreateTempSubdirectory("lrml-specfile").FullName;
        string path = Path.Combine(dir, "3.json");
        File.WriteAllText(path, "{ \"format\": ");
        Assert.StartsWith($"{path}:", Assert.Throws<InvalidDataException>(() => RunSpecFile.Load(path)).Message);

        File.WriteAllText(path, "{ \"format\": \"something-else\" }");
        Assert.Contains("not a run spec file of this kit", Assert.Throws<InvalidDataException>(() => RunSpecFile.Load(path)).Message);

        var o = new RunSpecFile(Spec(), "/r", false).ToJson();
        o["spec"]!["train"]!["epochs"] = 3;                                           // the spec no longer matches its recorded key
        File.WriteAllText(path, o.ToJsonString());
        var e = Assert.Throws<InvalidDataException>(() => RunSpecFile.Load(path));
        Assert.StartsWith($"{path}: the spec's key is ", e.Message);

        o = new RunSpecFile(Spec(), "/r", false).ToJson();
        o["spec"]!.AsObject().Remove("model");
        File.WriteAllText(path, o.ToJsonString());
        Assert.Equal($"{path}: run spec: the field 'model' is missing.", Assert.Throws<InvalidDataException>(() => RunSpecFile.Load(path)).Message);
    }

    /// <summary>`train --spec` trains the file's run into its directory through RunOrLoad: the result equals a run of the same
    /// spec in this process, and a second call reuses it.</summary>
    [Fact]
    public void TrainSpecRunsTheFileThroughRunOrLoadAndReusesAFinishedRun()
    {
        string root = Directory.CreateTempSubdirectory("lrml-trainspec").FullName;
        var spec = Spec() with { CheckpointEverySteps = 0 };
        string runDir = Path.Combine(root, "runs", "a");
        string file = Path.Combine(root, "0.json");
        new RunSpecFile(spec, runDir, false).Save(file);
        var (code, stdout, stderr) = CliRunner.Run(root, "train", "--spec", file);
        Assert.True(code == 0, stdout + stderr);
        // the run directory records the run's identity (data checksums included), as a local run would
        var ctx = new ExperimentContext { Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
        Assert.Equal(RunIdentity.Of(spec, ctx).Key, (string?)JsonNode.Parse(File.ReadAllText(Path.Combine(runDir, "spec.json")))!["key"]);

        var here = RunStore.RunOrLoad(spec, ctx, Path.Combine(root, "runs", "b"));
        Assert.Equal(here.Result.Metrics, RunStore.Load(runDir).Result.Metrics);

        (code, stdout, stderr) = CliRunner.Run(root, "train", "--spec", file);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains($"Reusing finished run {runDir}", stdout);

        (code, stdout, stderr) = CliRunner.Run(root, "train", "--spec", file, "--epochs", "5");
        Assert.Equal(1, code);
        Assert.Equal("error: --spec runs exactly the spec in its file: --epochs cannot be combined with it.", CliRunner.SingleErrorLine(stdout, stderr));
    }

    /// <summary>A task whose training diverges records it (diverged.json with the spec's key) so the submitter reports it as
    /// diverged instead of resubmitting a deterministic failure.</summary>
    /// <summary>A cluster task is another process, which knows only the built-in datasets: the spec file of a run on a data
    /// file of one's own carries the file and its format, so the task reads the same data (its checksum in result.json).</summary>
    [Fact]
    public void ASpecFileCarriesADatasetOfOnesOwnToTheTask()
    {
        string root = Directory.CreateTempSubdirectory("lrml-specfile-own").FullName;
        string name = "own-" + Guid.NewGuid().ToString("N")[..8];
        string csv = Path.Combine(root, name + ".csv");
        File.WriteAllText(csv, string.Concat(Enumerable.Range(0, 60).Select(k => $"u{k % 10};m{(k * 7) % 13};{1 + k % 5}\n")));
        var own = Datasets.Register(FileDataset.FromOptions(csv, ";", false, "user,item,rating", minRating: 2, kCore: null)).Own!;
        string file = Path.Combine(root, "0.json"), run = Path.Combine(root, "run");
        new RunSpecFile(new RunSpec { Dataset = name, Model = "pop", SampledNegatives = 3 }, run, Overwrite: false).Save(file);
        Assert.Equal(own.ToJson().ToJsonString(), JsonNode.Parse(File.ReadAllText(file))!["own_dataset"]!.ToJsonString());

        var (code, stdout, stderr) = CliRunner.Run(root, "train", "--spec", file);
        Assert.True(code == 0, stdout + stderr);
        var result = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "result.json")))!;
        Assert.Equal(name, (string?)result["dataset"]);
        Assert.Equal(Lrml.Util.FileStamp.Sha256(csv), (string?)result["dataset_provenance"]!["sha256"]);
        Assert.Contains("rating ≥ 2", (string?)result["dataset_provenance"]!["preprocessing"]);
    }

    [Fact]
    public void ADivergedTaskLeavesARecordTheBackendReadsAsDiverged()
    {
        string root = Directory.CreateTempSubdirectory("lrml-trainspec-diverge").FullName;
        var spec = new RunSpec
        {
            Dataset = "synthetic", Model = "bpr", Settings = [new("optimizer", "sgd"), new("learning_rate", "1"), new("dim", "16")],
            Train = new TrainConfig { Epochs = 6, Seed = 4, BatchSize = 256, Threads = 1 }, FullRanking = false,
        };
        string runDir = Path.Combine(root, "run");
        string file = Path.Combine(root, "0.json");
        new RunSpecFile(spec, runDir, false).Save(file);
        var (code, stdout, stderr) = CliRunner.Run(root, "train", "--spec", file);
        Assert.Equal(1, code);
        Assert.Contains("learning rate", CliRunner.SingleErrorLine(stdout, stderr));
        var ctx = new ExperimentContext { Data = new Lrml.Data.DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root };
        var end = RunEnd.Read(new Lrml.Reproduction.PlannedRun(spec, runDir), ctx);
        Assert.NotNull(end);
        Assert.Equal(RunState.Diverged, end.State);
        Assert.Contains("learning rate", end.Message);
        Assert.InRange(end.DivergedEpoch, 1, 6);
        // the record is tied to the spec: another spec in the same directory is not "diverged"
        Assert.Null(RunEnd.Read(new Lrml.Reproduction.PlannedRun(spec with { Train = spec.Train with { Seed = 5 } }, runDir), ctx));
    }
}
