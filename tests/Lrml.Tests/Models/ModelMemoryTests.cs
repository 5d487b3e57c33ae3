using Lrml.Experiments;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Tests.Robustness;

namespace Lrml.Tests.Models;

/// <summary>
/// Issue 11, case 9: sizes a machine cannot hold (dim=100000000, slots=100000000, a batch of 2³¹ − 1) used to crash with
/// an OutOfMemory or Overflow stack trace, or to swap silently for minutes. The kit now estimates the memory a model
/// needs before allocating it and refuses with one line naming the settings and the estimate.
/// </summary>
public class ModelMemoryTests
{
    private static ModelBuildContext Context(IReadOnlyList<KeyValuePair<string, string>> settings, string? engine = null, int batch = 1024) => new()
    {
        NumUsers = 943, NumItems = 1682, Train = UserItems.FromPairs(943, 1682, [0, 1, 2], [0, 1, 2]), Seed = 1, Threads = 1,
        Settings = settings, Engine = engine, BatchSize = batch,
    };

    [Fact]
    public void TheEstimateOfLrmlIsItsParametersStateCopiesAndBatchBuffers()
    {
        // fused LRML, d = 100 padded to 112, N = 20: (943 + 1682)·112 + 2·20·112 = 298,480 parameters;
        // Adam keeps 2 moments → (1 + 2) × 3 copies held by the trainer = 9 floats per parameter: 10,745,280 bytes;
        // per example (1 negative): 4·2·(4·112 + 2·20) + 4·4·112 + 4·(2 + 1) = 5,708 bytes; the batch is capped at the 3 pairs
        var m = ModelMemory.Lrml(new LrmlConfig(), 943, 1682, negatives: 1, fused: true);
        Assert.Equal(298_480, m.Parameters);
        Assert.Equal(10_745_280 + 3 * 5_708, m.Bytes(3, 1));
        var entry = ModelRegistry.Get("lrml");
        ModelRegistry.CheckMemory(entry, Context([]), availableBytes: 10_745_280 + 3 * 5_708);
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.CheckMemory(entry, Context([]), availableBytes: 10_745_280 + 3 * 5_708 - 1));
        Assert.Equal("LRML with dim=100, slots=20 on 943 users × 1,682 items and batches of 3 × (1 + 1) needs about 10 MB (298,480 parameters + " +
                     "2× optimiser state, 3 copies kept by the trainer, batch buffers), but this machine has 10 MB of available memory: lower these settings.",
            e.Message);
    }

    [Fact]
    public void SizesBeyond64BitsAreRefusedNotOverflowed()
    {
        var m = ModelMemory.Lrml(new LrmlConfig { Dim = int.MaxValue, Slots = int.MaxValue }, int.MaxValue, int.MaxValue, negatives: int.MaxValue, fused: false);
        var e = Assert.Throws<ArgumentException>(() => m.Check("LRML", int.MaxValue, int.MaxValue, int.MaxValue, int.MaxValue));
        Assert.Contains("needs more than 9 EB (the size overflows 64 bits)", e.Message);
    }

    [Theory]
    [InlineData("lrml", null, "dim", "100000000")]
    [InlineData("lrml", "torch", "dim", "10000000")]
    [InlineData("lrml", null, "slots", "100000000")]
    [InlineData("bpr", null, "dim", "100000000")]
    [InlineData("cml", null, "dim", "100000000")]
    [InlineData("transcf", null, "dim", "100000000")]
    [InlineData("gmf", null, "dim", "100000000")]
    [InlineData("mlp", null, "layers", "[400000000,8]")]
    [InlineData("neumf", null, "dim", "100000000")]
    public void EveryModelAndEngineRefusesASizeNoMachineHolds(string model, string? engine, string key, string value)
    {
        var e = Assert.Throws<ArgumentException>(() => ModelRegistry.CheckMemory(ModelRegistry.Get(model), Context([new(key, value)], engine),
            availableBytes: 64L << 30));
        Assert.Contains($"{key}={value}", e.Message);
        Assert.Contains("but this machine has 64 GB of available memory: lower these settings.", e.Message);
    }

    /// <summary>Real processes: each size that used to crash or hang is one error line, at once.</summary>
    [Theory]
    [InlineData("--set", "dim=100000000")]
    [InlineData("--engine", "torch", "--set", "dim=10000000")]
    [InlineData("--set", "slots=100000000")]
    [InlineData("--negatives", "1000000000")]
    public void TrainRefusesSizesThatCannotFitWithOneLine(params string[] size)
    {
        string root = Directory.CreateTempSubdirectory("lrml-size").FullName;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var (code, stdout, stderr) = CliRunner.Run(root, ["train", "--dataset", "synthetic", "--model", "lrml", "--epochs", "1", .. size, "--out", Path.Combine(root, "run")]);
        Assert.Equal(1, code);
        string error = CliRunner.SingleErrorLine(stdout, stderr);
        Assert.StartsWith("error: LRML with dim=", error);
        Assert.Contains(size[^1] == "1000000000" ? "× (1 + 1000000000)" : size[^1], error);
        Assert.Contains(" needs about ", error);
        Assert.EndsWith(": lower these settings.", error);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}: the size must be refused before anything is allocated");
    }

    /// <summary>`--batch-size 2147483647` used to throw OutOfMemoryException: a batch larger than the training set is now
    /// the training set (one step per epoch).</summary>
    [Fact]
    public void ABatchSizeOfIntMaxTrainsWithOneStepPerEpoch()
    {
        string root = Directory.CreateTempSubdirectory("lrml-size").FullName;
        string run = Path.Combine(root, "run");
        var (code, _, stderr) = CliRunner.Run(root, "train", "--dataset", "synthetic", "--model", "bpr", "--epochs", "1", "--batch-size", "2147483647",
            "--no-full-ranking", "--out", run);
        Assert.True(code == 0, stderr);
        var epoch = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllLines(Path.Combine(run, "epochs.jsonl"))[0])!;
        Assert.Equal(1, (int)epoch["steps"]!);
    }
}
