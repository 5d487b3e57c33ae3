using System.Text.Json.Nodes;
using Lrml.Cli;
using Lrml.Data;
using Lrml.Experiments;
using Lrml.Models;
using Lrml.Reproduction;
using Lrml.Reproduction.Sweeps;
using Lrml.Training;

namespace Lrml.Tests.Models;

/// <summary>Settings of <see cref="ItemBiasModel"/>.</summary>
public sealed record ItemBiasConfig : IModelConfig
{
    /// <summary>SGD learning rate.</summary>
    public float LearningRate { get; init; } = 0.05f;

    /// <inheritdoc/>
    public void Validate()
    {
        if (!(LearningRate > 0) || float.IsInfinity(LearningRate)) throw new ArgumentException($"LearningRate must be a finite number > 0 (got {LearningRate}).");
    }
}

/// <summary>
/// A model added the way the kit asks (issue 12): this one file holds its config record, the model and its registry entry;
/// <c>ModelRegistry.Register(ItemBiasModel.Entry)</c> is its one registration line. BPR with only an item bias: score(u, i) = b_i,
/// loss Σ softplus(b_j − b_i) over the sampled triples, one plain SGD step per batch.
/// </summary>
public sealed class ItemBiasModel(ItemBiasConfig config, int numUsers, int numItems) : ITrainableRecommender
{
    /// <summary>The registry entry "item-bias" (no preset, no default search space, no memory sizing).</summary>
    public static ModelEntry Entry { get; } = ModelEntry.Of<ItemBiasConfig>("item-bias", "ItemBias", "A test model: BPR with item biases only.", ["cpu"],
        (cfg, c) => new BuiltModel(new ItemBiasModel(cfg, c.NumUsers, c.NumItems), "cpu", ConfigBinder.ToJson(cfg)));

    private float[] _bias = new float[numItems];

    public string Name => "ItemBias";
    public int NumUsers => numUsers;
    public int NumItems => _bias.Length;

    public double TrainStep(TrainingBatch batch)
    {
        double loss = 0;
        int k = batch.NegativesPerPositive;
        for (int b = 0; b < batch.Count; b++)
            for (int j = 0; j < k; j++)
            {
                int pos = batch.Positives[b], neg = batch.Negatives[b * k + j];
                double x = _bias[neg] - _bias[pos];
                loss += Math.Log(1 + Math.Exp(x));
                float step = (float)(config.LearningRate / (1 + Math.Exp(-x)));   // lr · σ(b_j − b_i)
                _bias[pos] += step;
                _bias[neg] -= step;
            }
        return loss;
    }

    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores)
    {
        for (int x = 0; x < items.Length; x++) scores[x] = _bias[items[x]];
    }

    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        for (int u = 0; u < users.Length; u++) _bias.CopyTo(scores.Slice(u * NumItems, NumItems));
    }

    public byte[] SaveState() => System.Runtime.InteropServices.MemoryMarshal.AsBytes(_bias.AsSpan()).ToArray();
    public void LoadState(byte[] state) => _bias = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(state).ToArray();
    public IReadOnlyDictionary<string, object?> Describe() => new Dictionary<string, object?> { ["learning_rate"] = config.LearningRate };
    public bool ParametersAreFinite() => _bias.All(float.IsFinite);
    public double MaxAbsParameter() => _bias.Max(MathF.Abs);
    public void Dispose() { }
}

/// <summary>
/// Adding a model touches one new file plus one registration line (issue 12): <see cref="ItemBiasModel"/>, defined above in
/// this test file, trains through the normal experiment path, sweeps (saying it has no default space), runs in the CLI's
/// train command, and has its settings checked against its record — without a preset, a default space or memory sizing.
/// </summary>
[Collection("Torch models")]
public class AddAModelTests
{
    static AddAModelTests() => ModelRegistry.Register(ItemBiasModel.Entry);

    private static ExperimentContext Context(string root, TextWriter? log = null) => new()
    {
        Data = new DataDirectory(Path.Combine(root, "no-data")), ResultsRoot = root, Observer = log is null ? SilentObserver.Instance : new LineObserver(log),
    };

    private static RunSpec Spec(params string[] settings) => new()
    {
        Dataset = "synthetic", Model = "item-bias", Settings = ConfigBinder.ParsePairs(settings), FullRanking = false,
        Train = new TrainConfig { Epochs = 3, BatchSize = 512, Seed = 4, Threads = 1 },
    };

    [Fact]
    public void AModelInOneFileTrainsThroughTheExperimentPath()
    {
        string root = Directory.CreateTempSubdirectory("lrml-add-model").FullName;
        string dir = Path.Combine(root, "run");
        var result = Experiment.Run(Spec("learning_rate=0.1"), Context(root), dir).Result;

        Assert.Equal("ItemBias", result.Model);
        Assert.Equal(3, result.Epochs);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "result.json")))!["config"]!["model"]!;
        Assert.Equal(0.1, (double)config["learning_rate"]!, 6);
        var epochs = Dynamics.ReadEpochs(Path.Combine(dir, "epochs.jsonl"));
        Assert.True(epochs[^1].MeanLoss < epochs[0].MeanLoss, $"the loss did not fall: {epochs[0].MeanLoss} → {epochs[^1].MeanLoss}");
        // item biases learn popularity: the model ranks far above chance (HR@10 of a random ranking of 101 candidates ≈ 0.1)
        Assert.True(result.Metrics["HR@10"] > 0.2, $"HR@10 = {result.Metrics["HR@10"]}");
        // same seed, same numbers
        Assert.Equal(result.Metrics, Experiment.Run(Spec("learning_rate=0.1"), Context(root), Path.Combine(root, "again")).Result.Metrics);
    }

    [Fact]
    public void ItsSettingsAreCheckedAgainstItsRecord()
    {
        Assert.Equal(0.05, (double)ModelRegistry.Get("item-bias").DefaultConfig()["learning_rate"]!, 6);
        var bad = Assert.Throws<SettingException>(() => ModelRegistry.Get("item-bias").CheckSettings([new("learning_rate", "-1")]));
        Assert.Equal("Bad setting learning_rate=-1: LearningRate must be a finite number > 0 (got -1).", bad.Message);
        var unknown = Assert.Throws<SettingException>(() => ModelRegistry.Get("item-bias").CheckSettings([new("dim", "8")]));
        Assert.Equal("Unknown setting 'dim' for ItemBiasConfig. Valid settings: learning_rate.", unknown.Message);
        string root = Directory.CreateTempSubdirectory("lrml-add-model").FullName;
        var run = Assert.Throws<ArgumentException>(() => Experiment.Run(Spec("learning_rate=0"), Context(root), Path.Combine(root, "run")));
        Assert.StartsWith("Bad setting learning_rate=0: LearningRate must be", run.Message);
    }

    [Fact]
    public void ItSweepsWithoutADefaultSpaceAndSaysSo()
    {
        string root = Directory.CreateTempSubdirectory("lrml-add-model").FullName;
        var log = new StringWriter();
        Assert.False(DefaultSpaces.Declares("item-bias"));
        var sweep = Sweep.Run(new SweepSpec
        {
            Dataset = "synthetic", Model = "item-bias", Seeds = 1, Epochs = 1, FullRanking = false, Train = new TrainConfig { BatchSize = 512, Threads = 1 },
        }, Context(root, log), Path.Combine(root, "sweep"));
        Assert.Contains("ItemBias declares no default search space (DefaultSpaces): the sweep runs one trial with its default settings; " +
                        "give --space key=v1,v2 to search.", log.ToString());
        Assert.Single(sweep.Trials);
        Assert.Empty(sweep.Chosen.Settings);
    }

    [Fact]
    public void ItRunsInTheTrainCommand()
    {
        string root = Directory.CreateTempSubdirectory("lrml-add-model").FullName;
        string dir = Path.Combine(root, "run");
        int code = LrmlCommandLine.Build().Parse(["train", "--model", "item-bias", "--lr", "0.2", "--epochs", "1", "--threads", "1",
            "--no-full-ranking", "--results", root, "--out", dir]).Invoke();
        Assert.Equal(0, code);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "result.json")))!["config"]!["model"]!;
        Assert.Equal(0.2, (double)config["learning_rate"]!, 6);
    }
}
