using System.Text.Json.Nodes;
using Lrml.Models;
using Lrml.Protocols;

namespace Lrml.Models;

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
    /// <summary>Positives per training batch (sizes the memory check; batches never exceed the training set).</summary>
    public int BatchSize { get; init; } = DefaultBatchSize;
    /// <summary>Sampled negatives per positive (sizes the memory check).</summary>
    public int NegativesPerPositive { get; init; } = DefaultNegativesPerPositive;

    /// <summary>The trainer's default positives per batch (<see cref="Training.TrainConfig.BatchSize"/> starts from it);
    /// kept here because Models sits below Training in the layer order.</summary>
    public const int DefaultBatchSize = 1024;
    /// <summary>The trainer's default negatives per positive (<see cref="Training.TrainConfig.NegativesPerPositive"/> starts from it).</summary>
    public const int DefaultNegativesPerPositive = 1;
}

/// <summary>A built model and the exact configuration it runs with (for result records).</summary>
public sealed record BuiltModel(IRecommender Model, string Engine, JsonObject Config);

/// <summary>One model the kit can train: its name, the paper it comes from, its engines and its factory.</summary>
public sealed record ModelEntry(string Name, string Display, string Paper, IReadOnlyList<string> Engines,
    Func<ModelBuildContext, BuiltModel> Build, Func<JsonObject> DefaultConfig)
{
    /// <summary>What the model needs in memory for a build context (null: not estimated).</summary>
    internal Func<ModelBuildContext, ModelMemory>? Memory { get; init; }
}

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
            ["torch"], BuildLrml, () => ConfigBinder.ToJson(new LrmlConfig()))
        {
            Memory = Sized(new LrmlConfig(), x => x.Validate(), (cfg, c) => ModelMemory.Lrml(cfg, c.NumUsers, c.NumItems, c.NegativesPerPositive,
                fused: LrmlEngine(c) == "fused")),
        });
        Register(new ModelEntry("cml", "CML", "Hsieh et al. Collaborative Metric Learning. WWW 2017.",
            ["torch"], c => Torch(c, new CmlConfig(), (cfg, d) => new CmlModel(cfg, c.NumUsers, c.NumItems, c.Seed, d, positives: c.Train)),
            () => ConfigBinder.ToJson(new CmlConfig()))
        {
            Memory = Sized(new CmlConfig(), x => x.Validate(), (cfg, c) => ModelMemory.Embeddings(cfg.Dim, cfg.Optimizer, c.NumUsers, c.NumItems, Math.Max(c.NegativesPerPositive, cfg.WarpNegatives))),
        });
        Register(new ModelEntry("bpr", "BPR-MF", "Rendle et al. BPR: Bayesian Personalized Ranking from Implicit Feedback. UAI 2009.",
            ["torch"], c => Torch(c, new BprConfig(), (cfg, d) => new BprMfModel(cfg, c.NumUsers, c.NumItems, c.Seed, d)),
            () => ConfigBinder.ToJson(new BprConfig()))
        {
            Memory = Sized(new BprConfig(), x => x.Validate(), (cfg, c) => ModelMemory.Embeddings(cfg.Dim, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive, extra: cfg.ItemBias ? c.NumItems : 0)),
        });
        Register(new ModelEntry("gmf", "GMF", "He et al. Neural Collaborative Filtering. WWW 2017 (generalized matrix factorization).", ["torch"], c => Torch(c, new GmfConfig(), (cfg, d) => new GmfModel(cfg, c.NumUsers, c.NumItems, c.Seed, d)), () => ConfigBinder.ToJson(new GmfConfig()))
        {
            Memory = Sized(new GmfConfig(), x => x.Validate(), (cfg, c) => ModelMemory.Ncf(cfg.Dim, null, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive)),
        });
        Register(new ModelEntry("mlp", "MLP", "He et al. Neural Collaborative Filtering. WWW 2017 (multi-layer perceptron).", ["torch"], c => Torch(c, new MlpConfig(), (cfg, d) => new MlpModel(cfg, c.NumUsers, c.NumItems, c.Seed, d)), () => ConfigBinder.ToJson(new MlpConfig()))
        {
            Memory = Sized(new MlpConfig(), x => x.Validate(), (cfg, c) => ModelMemory.Ncf(0, cfg.Layers, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive)),
        });
        Register(new ModelEntry("neumf", "NeuMF", "He et al. Neural Collaborative Filtering. WWW 2017 (NeuMF; pretrain=gmf_run_dir,mlp_run_dir for §3.4.1 pre-training).", ["torch"], NeuMfModel.Build, () => ConfigBinder.ToJson(new NeuMfConfig()))
        {
            Memory = Sized(new NeuMfConfig(), x => x.Validate(), (cfg, c) => ModelMemory.Ncf(cfg.Dim, cfg.Layers, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive)),
        });
        Register(new ModelEntry("transcf", "TransCF", "Park, Kim, Xie, Yu. Collaborative Translational Metric Learning. ICDM 2018.", ["torch"], c => Torch(c, new TransCfConfig(), (cfg, d) => new TransCfModel(cfg, c.Train, c.Seed, d)), () => ConfigBinder.ToJson(new TransCfConfig()))
        {
            // the neighbourhood means of every user and item are held next to the embeddings
            Memory = Sized(new TransCfConfig(), x => x.Validate(), (cfg, c) => ModelMemory.Embeddings(cfg.Dim, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive, extraCopies: 2)),
        });
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
        int at = Entries.FindIndex(e => e.Name == entry.Name);
        if (at >= 0) Entries[at] = entry; else Entries.Add(entry);
    }

    /// <summary>All registered models.</summary>
    public static IReadOnlyList<ModelEntry> All => Entries;

    /// <summary>The entry of a model name (case-insensitive); unknown names list the known ones.</summary>
    public static ModelEntry Get(string name) =>
        Entries.FirstOrDefault(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase)
                                    || string.Equals(e.Display, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"Unknown model '{name}'. Known: {string.Join(", ", Entries.Select(e => e.Name))}.");

    /// <summary>Builds a model by name, after checking that it fits in memory (<see cref="ModelMemory"/>): a size the
    /// machine cannot hold is a one-line <see cref="ArgumentException"/> before anything is allocated.</summary>
    public static BuiltModel Build(string name, ModelBuildContext context)
    {
        var entry = Get(name);
        if (context.Engine is not null && !entry.Engines.Contains(context.Engine, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"Model '{entry.Name}' has no engine '{context.Engine}'. Engines: {string.Join(", ", entry.Engines)}.");
        CheckMemory(entry, context);
        return entry.Build(context);
    }

    /// <summary>Refuses a model (with its batch buffers) that cannot fit in this machine's memory.</summary>
    internal static void CheckMemory(ModelEntry entry, ModelBuildContext context, long? availableBytes = null)
    {
        if (entry.Memory is null) return;
        if (context.BatchSize < 1) throw new ArgumentException($"BatchSize must be ≥ 1 (got {context.BatchSize}).");
        if (context.NegativesPerPositive < 1) throw new ArgumentException($"NegativesPerPositive must be ≥ 1 (got {context.NegativesPerPositive}).");
        long batch = Math.Min(context.BatchSize, Math.Max(1L, context.Train.Count));   // the trainer never allocates more
        entry.Memory(context).Check(entry.Display, context.NumUsers, context.NumItems, batch, context.NegativesPerPositive, availableBytes);
    }

    /// <summary>A memory estimate from the model's validated configuration with the context's settings applied.</summary>
    private static Func<ModelBuildContext, ModelMemory> Sized<T>(T defaults, Action<T> validate, Func<T, ModelBuildContext, ModelMemory> size)
        where T : class => c =>
    {
        var cfg = ConfigBinder.Apply(defaults, c.Settings);
        validate(cfg);
        return size(cfg, c);
    };

    private static string LrmlEngine(ModelBuildContext c) =>
        (c.Engine ?? (c.Device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) ? "torch" : "fused")).ToLowerInvariant();

    private static BuiltModel BuildLrml(ModelBuildContext c)
    {
        var cfg = ConfigBinder.Apply(new LrmlConfig(), c.Settings);
        cfg.Validate();
        string engine = LrmlEngine(c);
        var json = ConfigBinder.ToJson(cfg);
        json["engine"] = engine;
        if (engine != "torch") return new BuiltModel(BuildAdded("lrml", engine, c), engine, json);
        json["device"] = c.Device;
        return new BuiltModel(new LrmlModel(cfg, c.NumUsers, c.NumItems, c.Seed, TorchSharp.torch.device(c.Device), positives: c.Train), engine, json);
    }

    /// <summary>Engines other assemblies added to a model (<see cref="RegisterEngine"/>), by (model, engine).</summary>
    private static readonly Dictionary<(string Model, string Engine), Func<ModelBuildContext, IRecommender>> AddedEngines = new();

    /// <summary>
    /// The one registration point of other engines: adds <paramref name="engine"/> to <paramref name="model"/>'s entry.
    /// The builder gets the same context (settings included) as the model's own factory and must build the same model
    /// (same initial weights for a seed; parity-tested). Lrml.Fast registers LRML's "fused" CPU engine this way.
    /// </summary>
    public static void RegisterEngine(string model, string engine, Func<ModelBuildContext, IRecommender> build)
    {
        lock (AddedEngines)
        {
            var entry = Get(model);
            AddedEngines[(entry.Name, engine.ToLowerInvariant())] = build;
            if (!entry.Engines.Contains(engine, StringComparer.OrdinalIgnoreCase))
                Register(entry with { Engines = [engine.ToLowerInvariant(), .. entry.Engines] });
        }
    }

    private static IRecommender BuildAdded(string model, string engine, ModelBuildContext c)
    {
        Func<ModelBuildContext, IRecommender>? build;
        lock (AddedEngines) AddedEngines.TryGetValue((model, engine), out build);
        return build?.Invoke(c) ?? throw new InvalidOperationException(
            $"The '{engine}' engine of {model} is not registered in this process: it lives in Lrml.Fast — call " +
            "Lrml.Fast.FastEngines.Register() first (the lrml CLI and Notebook.Setup do), or choose the torch engine.");
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
