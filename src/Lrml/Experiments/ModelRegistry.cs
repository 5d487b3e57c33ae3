using System.Text.Json.Nodes;
using Lrml.Models;
using Lrml.Protocols;

namespace Lrml.Experiments;

/// <summary>What a model factory gets: the shape, the training positives, the run seed and the settings.</summary>
public sealed class ModelBuildContext
{
    public required int NumUsers { get; init; }
    public required int NumItems { get; init; }
    public required UserItems Train { get; init; }
    public required long Seed { get; init; }
    public required int Threads { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = Array.Empty<KeyValuePair<string, string>>();
    /// <summary>Engine name, or null for the model's default.</summary>
    public string? Engine { get; init; }
    /// <summary>TorchSharp device for the torch engine ("cpu", "cuda", "cuda:1").</summary>
    public string Device { get; init; } = "cpu";
}

/// <summary>A built model and the exact configuration it runs with (for result records).</summary>
public sealed record BuiltModel(IRecommender Model, string Engine, JsonObject Config);

/// <summary>One model the kit can train: its name, the paper it comes from, its engines and its factory.</summary>
public sealed record ModelEntry(string Name, string Display, string Paper, IReadOnlyList<string> Engines,
    Func<ModelBuildContext, BuiltModel> Build, Func<JsonObject> DefaultConfig);

/// <summary>
/// The models of the kit by name. Each entry builds a model from key=value settings applied to its typed
/// config record (<see cref="ConfigBinder"/>), so the CLI, sweeps and notebooks share one path.
/// </summary>
public static class ModelRegistry
{
    private static readonly List<ModelEntry> Entries = new();

    static ModelRegistry()
    {
        Register(new ModelEntry("lrml", "LRML", "Tay, Luu, Hui. Latent Relational Metric Learning via Memory-based Attention for Collaborative Ranking. WWW 2018.",
            ["fused", "torch"], BuildLrml, () => ConfigBinder.ToJson(new LrmlConfig())));
        Register(new ModelEntry("cml", "CML", "Hsieh et al. Collaborative Metric Learning. WWW 2017.",
            ["torch"], c => Torch(c, new CmlConfig(), (cfg, d) => new CmlModel(cfg, c.NumUsers, c.NumItems, c.Seed, d, positives: c.Train)),
            () => ConfigBinder.ToJson(new CmlConfig())));
        Register(new ModelEntry("bpr", "BPR-MF", "Rendle et al. BPR: Bayesian Personalized Ranking from Implicit Feedback. UAI 2009.",
            ["torch"], c => Torch(c, new BprConfig(), (cfg, d) => new BprMfModel(cfg, c.NumUsers, c.NumItems, c.Seed, d)),
            () => ConfigBinder.ToJson(new BprConfig())));
        Register(new ModelEntry("gmf", "GMF", "He et al. Neural Collaborative Filtering. WWW 2017 (generalized matrix factorization).", ["torch"], c => Torch(c, new GmfConfig(), (cfg, d) => new GmfModel(cfg, c.NumUsers, c.NumItems, c.Seed, d)), () => ConfigBinder.ToJson(new GmfConfig())));
        Register(new ModelEntry("mlp", "MLP", "He et al. Neural Collaborative Filtering. WWW 2017 (multi-layer perceptron).", ["torch"], c => Torch(c, new MlpConfig(), (cfg, d) => new MlpModel(cfg, c.NumUsers, c.NumItems, c.Seed, d)), () => ConfigBinder.ToJson(new MlpConfig())));
        Register(new ModelEntry("neumf", "NeuMF", "He et al. Neural Collaborative Filtering. WWW 2017 (NeuMF; pretrain=gmf_run_dir,mlp_run_dir for §3.4.1 pre-training).", ["torch"], Sweeps.NcfPretraining.BuildNeuMf, () => ConfigBinder.ToJson(new NeuMfConfig())));
        Register(new ModelEntry("transcf", "TransCF", "Park, Kim, Xie, Yu. Collaborative Translational Metric Learning. ICDM 2018.", ["torch"], c => Torch(c, new TransCfConfig(), (cfg, d) => new TransCfModel(cfg, c.Train, c.Seed, d)), () => ConfigBinder.ToJson(new TransCfConfig())));
        Register(new ModelEntry("pop", "Popularity", "Item popularity in the training split (non-personalised baseline).",
            ["none"], c =>
            {
                if (c.Settings.Count > 0) throw new ArgumentException("The popularity model has no settings.");
                return new BuiltModel(PopularityModel.Fit(c.Train), "none", new JsonObject());
            }, () => new JsonObject()));
    }

    /// <summary>Adds a model (used by extensions such as the NCF baselines).</summary>
    public static void Register(ModelEntry entry)
    {
        Entries.RemoveAll(e => e.Name == entry.Name);
        Entries.Add(entry);
    }

    /// <summary>All registered models.</summary>
    public static IReadOnlyList<ModelEntry> All => Entries;

    /// <summary>The entry of a model name (case-insensitive); unknown names list the known ones.</summary>
    public static ModelEntry Get(string name) =>
        Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)
                                    || string.Equals(e.Display, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown model '{name}'. Known: {string.Join(", ", Entries.Select(e => e.Name))}.");

    /// <summary>Builds a model by name.</summary>
    public static BuiltModel Build(string name, ModelBuildContext context)
    {
        var entry = Get(name);
        if (context.Engine is not null && !entry.Engines.Contains(context.Engine, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"Model '{entry.Name}' has no engine '{context.Engine}'. Engines: {string.Join(", ", entry.Engines)}.");
        return entry.Build(context);
    }

    private static BuiltModel BuildLrml(ModelBuildContext c)
    {
        var cfg = ConfigBinder.Apply(new LrmlConfig(), c.Settings);
        cfg.Validate();
        string engine = (c.Engine ?? (c.Device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) ? "torch" : "fused")).ToLowerInvariant();
        var json = ConfigBinder.ToJson(cfg);
        json["engine"] = engine;
        if (engine == "fused") return FusedLrml(cfg, c, json);
        json["device"] = c.Device;
        return new BuiltModel(new LrmlModel(cfg, c.NumUsers, c.NumItems, c.Seed, TorchSharp.torch.device(c.Device), positives: c.Train), engine, json);
    }

    /// <summary>The fused CPU engine: same initial weights as the torch engine for a seed.</summary>
    private static BuiltModel FusedLrml(LrmlConfig cfg, ModelBuildContext c, JsonObject json)
    {
        var init = LrmlParameters.Initialize(cfg, c.NumUsers, c.NumItems, c.Seed);
        return new BuiltModel(new Lrml.Models.Fused.LrmlFused(cfg, init, new Lrml.Models.Fused.FusedOptions { Threads = c.Threads }, c.Train, c.Seed), "fused", json);
    }

    private static BuiltModel Torch<T>(ModelBuildContext c, T defaults, Func<T, TorchSharp.torch.Device, IRecommender> make) where T : class
    {
        var cfg = ConfigBinder.Apply(defaults, c.Settings);
        var json = ConfigBinder.ToJson(cfg);
        json["engine"] = "torch";
        json["device"] = c.Device;
        return new BuiltModel(make(cfg, TorchSharp.torch.device(c.Device)), "torch", json);
    }
}
