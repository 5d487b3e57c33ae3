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

/// <summary>
/// One model the kit can train: its name, the paper it comes from, its engines, its factory and what it needs in memory.
/// A model declares its entry next to its code (a static <c>Entry</c>, usually made by <see cref="Torch{T}"/> or
/// <see cref="Of{T}"/>) and <see cref="ModelRegistry"/> registers it in one line.
/// </summary>
public sealed record ModelEntry(string Name, string Display, string Paper, IReadOnlyList<string> Engines,
    Func<ModelBuildContext, BuiltModel> Build, Func<JsonObject> DefaultConfig)
{
    /// <summary>Whether the model is not trained (its only engine is "none", as popularity's): its scores do not depend on the
    /// seed, so a sweep or reproduction runs it once.</summary>
    internal bool Deterministic => Engines is ["none"];

    /// <summary>The validated configuration of a build context as stored with results (what an added engine's result records).</summary>
    internal Func<ModelBuildContext, JsonObject>? BoundConfig { get; init; }

    /// <summary>What the model needs in memory for a build context (null: not estimated).</summary>
    internal Func<ModelBuildContext, ModelMemory>? Memory { get; init; }

    /// <summary>The model's configuration with key=value settings applied, as its record serialises (every setting; null: a
    /// model without a config record). What a run's config.json lists under "model", before the engine and device.</summary>
    internal Func<IReadOnlyList<KeyValuePair<string, string>>, JsonObject>? Resolve { get; init; }

    /// <summary>Binds key=value settings to the model's config record and validates them (<see cref="ConfigBinder.Bind{T}"/>),
    /// without building anything: what the command line calls once, before any data is loaded. Throws a
    /// <see cref="SettingException"/> naming the bad setting. The default refuses every setting (a model without any).</summary>
    public Action<IReadOnlyList<KeyValuePair<string, string>>> CheckSettings { get; init; } = NoSettings;

    private static void NoSettings(IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        if (settings.Count > 0) throw new SettingException($"This model has no settings (got {settings[0].Key}={settings[0].Value}).");
    }

    /// <summary>
    /// The entry of a model with config record <typeparamref name="T"/>: its settings are bound to the record and validated
    /// (<see cref="ConfigBinder.Bind{T}"/>), then <paramref name="build"/> builds the model; the defaults are <c>new T()</c>.
    /// </summary>
    public static ModelEntry Of<T>(string name, string display, string paper, IReadOnlyList<string> engines,
        Func<T, ModelBuildContext, BuiltModel> build) where T : class, IModelConfig, new() =>
        new(name, display, paper, engines, c => build(ConfigBinder.Bind<T>(c.Settings), c), () => ConfigBinder.ToJson(new T()))
        {
            BoundConfig = c => ConfigBinder.ToJson(ConfigBinder.Bind<T>(c.Settings)),
            CheckSettings = s =>
            {
                try { ConfigBinder.Bind<T>(s); }
                catch (ArgumentException e) { throw new SettingException(e.Message, e); }
            },
            Resolve = s => ConfigBinder.ToJson(ConfigBinder.Bind<T>(s)),
        };

    /// <summary>The entry of a TorchSharp model (one engine, "torch", on the context's device): <paramref name="make"/> gets the
    /// validated config, the build context and the device (see <see cref="Of{T}"/>).</summary>
    public static ModelEntry Torch<T>(string name, string display, string paper, Func<T, ModelBuildContext, TorchSharp.torch.Device, IRecommender> make)
        where T : class, IModelConfig, new() =>
        Of<T>(name, display, paper, ["torch"], (cfg, c) =>
        {
            var json = TorchConfig(cfg, c);
            return new BuiltModel(make(cfg, c, TorchSharp.torch.device(c.Device)), "torch", json);
        });

    /// <summary>This entry with a memory estimate (<see cref="ModelMemory"/>) from the validated config record
    /// <typeparamref name="T"/> and the build context, checked before anything is allocated.</summary>
    internal ModelEntry Sized<T>(Func<T, ModelBuildContext, ModelMemory> memory) where T : class, IModelConfig, new() =>
        this with { Memory = c => memory(ConfigBinder.Bind<T>(c.Settings), c) };

    /// <summary>The configuration record of a torch-engine model as stored with its results (config, engine, device).</summary>
    internal static JsonObject TorchConfig<T>(T config, ModelBuildContext c)
    {
        var json = ConfigBinder.ToJson(config);
        json["engine"] = "torch";
        json["device"] = c.Device;
        return json;
    }
}

/// <summary>
/// The models of the kit by name. Each entry builds a model from key=value settings bound to its typed config record
/// (<see cref="ConfigBinder.Bind{T}"/>), so the CLI, sweeps and notebooks share one path. Adding a model: write its file
/// (config record, model, and a static <c>Entry</c> beside them) and register it here in one line.
/// </summary>
public static class ModelRegistry
{
    private static readonly List<ModelEntry> Entries = new();

    static ModelRegistry()
    {
        Register(LrmlEntry);
        Register(CmlModel.Entry);
        Register(BprMfModel.Entry);
        Register(GmfModel.Entry);
        Register(MlpModel.Entry);
        Register(NeuMfModel.Entry);
        Register(TransCfModel.Entry);
        Register(PopularityModel.Entry);
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
        string? engine = context.Engine?.ToLowerInvariant() ?? DefaultEngine(entry.Name, context.Settings, context.Device);
        Func<ModelBuildContext, IRecommender>? added = null;
        if (engine is not null) lock (AddedEngines) AddedEngines.TryGetValue((entry.Name, engine), out added);
        if (added is null || entry.BoundConfig is null) return entry.Build(context);
        var json = entry.BoundConfig(context);
        json["engine"] = engine;
        return new BuiltModel(added(context), engine!, json);
    }

    /// <summary>
    /// The engine a run without an explicit engine gets when an added engine claimed the default for its settings (on the
    /// CPU; see <see cref="RegisterEngine"/>), else null: the model's own default (torch; LRML's fused). Run identities name
    /// this engine, so results of the model's former default are never reused as its new one.
    /// </summary>
    internal static string? DefaultEngine(string model, IReadOnlyList<KeyValuePair<string, string>> settings, string device)
    {
        if (!string.Equals(device, "cpu", StringComparison.OrdinalIgnoreCase)) return null;
        string name = Get(model).Name;
        lock (AddedEngines)
            foreach (var (key, isDefault) in DefaultOf)
                if (key.Model == name && isDefault(settings)) return key.Engine;
        return null;
    }

    /// <summary>Added engines that are the default for the settings they accept, in registration order.</summary>
    private static readonly List<((string Model, string Engine) Key, Func<IReadOnlyList<KeyValuePair<string, string>>, bool> IsDefault)> DefaultOf = new();

    /// <summary>Refuses a model (with its batch buffers) that cannot fit in this machine's memory.</summary>
    internal static void CheckMemory(ModelEntry entry, ModelBuildContext context, long? availableBytes = null)
    {
        if (entry.Memory is null) return;
        if (context.BatchSize < 1) throw new ArgumentException($"BatchSize must be ≥ 1 (got {context.BatchSize}).");
        if (context.NegativesPerPositive < 1) throw new ArgumentException($"NegativesPerPositive must be ≥ 1 (got {context.NegativesPerPositive}).");
        long batch = Math.Min(context.BatchSize, Math.Max(1L, context.Train.Count));   // the trainer never allocates more
        entry.Memory(context).Check(entry.Display, context.NumUsers, context.NumItems, batch, context.NegativesPerPositive, availableBytes);
    }

    /// <summary>LRML (its code in Models/Lrml): the torch engine here; the fused CPU engine, the default on a CPU, is added by
    /// Lrml.Fast through <see cref="RegisterEngine"/>.</summary>
    private static readonly ModelEntry LrmlEntry = ModelEntry.Of<LrmlConfig>("lrml", "LRML",
        "Tay, Luu, Hui. Latent Relational Metric Learning via Memory-based Attention for Collaborative Ranking. WWW 2018.", ["torch"], BuildLrml)
        .Sized<LrmlConfig>((cfg, c) => ModelMemory.Lrml(cfg, c.NumUsers, c.NumItems, c.NegativesPerPositive, fused: LrmlEngine(c) == "fused"));

    private static string LrmlEngine(ModelBuildContext c) => EngineUsed("lrml", c.Engine, c.Device, c.Settings);

    /// <summary>The engine a model runs with when asked for <paramref name="engine"/> (null: its default — an added engine that
    /// claimed the default for these <paramref name="settings"/>, see <see cref="DefaultEngine"/>; else LRML's fused CPU engine,
    /// the torch one on a CUDA device; a model's only engine otherwise).</summary>
    internal static string EngineUsed(string model, string? engine, string device, IReadOnlyList<KeyValuePair<string, string>> settings) =>
        (engine ?? DefaultEngine(model, settings, device) ?? (Get(model).Name != "lrml" ? Get(model).Engines.LastOrDefault() ?? ""
            : device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase) ? "torch" : "fused")).ToLowerInvariant();

    private static BuiltModel BuildLrml(LrmlConfig cfg, ModelBuildContext c)
    {
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
    /// <param name="model">The model's registry name.</param>
    /// <param name="engine">The engine's name.</param>
    /// <param name="build">Builds the model on this engine.</param>
    /// <param name="isDefault">When given, the engine becomes the model's default on the CPU for the settings it returns true
    /// for (e.g. every option it implements); run identities then name it (<see cref="DefaultEngine"/>).</param>
    public static void RegisterEngine(string model, string engine, Func<ModelBuildContext, IRecommender> build,
        Func<IReadOnlyList<KeyValuePair<string, string>>, bool>? isDefault = null)
    {
        lock (AddedEngines)
        {
            var entry = Get(model);
            var key = (entry.Name, engine.ToLowerInvariant());
            AddedEngines[key] = build;
            DefaultOf.RemoveAll(d => d.Key == key);
            if (isDefault is not null) DefaultOf.Add((key, isDefault));
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
}
