using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Util;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Lrml.Models;

/// <summary>How the pointwise log loss of a batch is reduced.</summary>
public enum LossReduction
{
    /// <summary>Mean over the batch's B·(1 + k) labelled examples (Keras' binary_crossentropy, as in NCF's code).</summary>
    Mean,
    /// <summary>Sum over the examples (the form of the NCF paper's objective, Eq. 7).</summary>
    Sum,
}

/// <summary>
/// NeuMF hyper-parameters (He et al., WWW 2017). Defaults are NCF's released settings (factors 8, MLP
/// [64,32,16,8], Adam lr 1e-3; batch 256 and 4 negatives are set on the trainer).
/// </summary>
public sealed record NeuMfConfig : IModelConfig
{
    /// <summary>GMF factors (NCF's num_factors / mf_dim; the paper uses 8–64).</summary>
    public int Dim { get; init; } = 8;

    /// <summary>MLP tower as in NCF's code: Layers[0] is the concatenated embedding size (each embedding is Layers[0]/2),
    /// Layers[1..] are the ReLU hidden layers; the last one is the MLP's predictive factors.</summary>
    public int[] Layers { get; init; } = [64, 32, 16, 8];

    /// <summary>Learning rate (NCF: 1e-3 with Adam; 1e-3 with SGD after pre-training).</summary>
    public float LearningRate { get; init; } = 1e-3f;

    /// <summary>Optimiser: Adam (NCF without pre-training), Sgd (NCF after pre-training) or Adagrad; LazyAdam on the fused engine only.</summary>
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;

    /// <summary>Per-example L2 weight λ on the looked-up embedding rows (NCF's reg_mf / reg_layers[0]; default 0 as in NCF).</summary>
    public float L2 { get; init; } = 0f;

    /// <summary>Reduction of the log loss (NCF's Keras code averages over the batch).</summary>
    public LossReduction Reduction { get; init; } = LossReduction.Mean;

    /// <summary>Pre-training sources: "" (none) or "gmf_run_dir,mlp_run_dir", two run directories (config.json + best.ckpt)
    /// of a GMF and an MLP trained on the same split whose sizes match this model. NCF then trains with optimizer=sgd.</summary>
    public string Pretrain { get; init; } = "";

    /// <summary>α of the pre-trained fusion: h ← [α·h_GMF ; (1 − α)·h_MLP], b ← α·b_GMF + (1 − α)·b_MLP (NCF: 0.5).</summary>
    public float PretrainAlpha { get; init; } = 0.5f;

    /// <summary>Checks ranges; throws <see cref="ArgumentException"/> naming the bad field.</summary>
    public void Validate()
    {
        if (Dim < 1) throw new ArgumentException($"Dim must be ≥ 1 (got {Dim}).");
        NcfChecks.Common(Layers, LearningRate, Optimizer, L2);
        if (!(PretrainAlpha >= 0 && PretrainAlpha <= 1)) throw new ArgumentException($"PretrainAlpha must lie in [0, 1] (got {PretrainAlpha}).");
        if (Pretrain.Length > 0 && Pretrain.Split(',').Length != 2)
            throw new ArgumentException($"Pretrain must be empty or 'gmf_run_dir,mlp_run_dir' (got '{Pretrain}').");
    }
}

/// <summary>
/// NeuMF — Neural Matrix Factorization. Xiangnan He, Lizi Liao, Hanwang Zhang, Liqiang Nie, Xia Hu, Tat-Seng Chua:
/// "Neural Collaborative Filtering", WWW 2017, pp. 173–182, doi 10.1145/3038912.3052569 (§3.4).
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>φ_GMF = p_u ⊙ q_i (factors <see cref="NeuMfConfig.Dim"/>); φ_MLP = a_L(… a_1(W_1[p'_u; q'_i] + b_1) …) with ReLU
/// layers <see cref="NeuMfConfig.Layers"/>[1..] over separate embeddings p', q' of size Layers[0]/2;
/// logit z = hᵀ[φ_GMF; φ_MLP] + b, ŷ = σ(z). The score the kit ranks by is z (monotone in ŷ, free of float32
/// saturation ties).</item>
/// <item>Pointwise log loss over the trainer's batch: label 1 for each positive (u, i⁺) and 0 for each of its k sampled
/// negatives: ℓ = softplus(−z) for positives and softplus(z) for negatives (= −log σ(±z)), reduced by
/// <see cref="NeuMfConfig.Reduction"/> (mean over B(1+k) examples by default, as Keras in NCF's code); optional
/// per-example L2 λ·(‖e_u‖² + ‖e_i‖²) on every embedding row an example looks up, reduced the same way.</item>
/// <item>Initialisation as NCF's code: embeddings N(0, 0.01²); hidden layers Glorot-uniform U(±√(6/(in+out))), biases 0;
/// prediction layer LeCun-uniform U(±√(3/in)), bias 0. Streams "ncf.init.&lt;tensor&gt;" of <see cref="Rng"/>.</item>
/// <item>Pre-training (§3.4.1): the GMF and MLP parts (embeddings, hidden layers) are copied from trained <see cref="GmfModel"/>
/// and <see cref="MlpModel"/> runs, and the output layer is h = [α·h_GMF; (1−α)·h_MLP], b = α·b_GMF + (1−α)·b_MLP
/// (NCF's code: α = 0.5, b = 0.5·(b_GMF + b_MLP)). The paper then trains with vanilla SGD because Adam's moments are
/// not carried over (NCF's README runs it with SGD, lr 1e-3). Use <see cref="NeuMfConfig.Pretrain"/> through the
/// registry, or <see cref="FromPretrained"/>.</item>
/// </list>
/// </remarks>
public sealed class NeuMfModel : NcfModel<NeuMfConfig>
{
    /// <summary>The registry entry "neumf" (factory and memory sizing).</summary>
    internal static ModelEntry Entry { get; } = ModelEntry.Of<NeuMfConfig>("neumf", "NeuMF",
        "He et al. Neural Collaborative Filtering. WWW 2017 (NeuMF; pretrain=gmf_run_dir,mlp_run_dir for §3.4.1 pre-training).", ["torch"], Build)
        .Sized<NeuMfConfig>((cfg, c) => ModelMemory.Ncf(cfg.Dim, cfg.Layers, cfg.Optimizer, c.NumUsers, c.NumItems, c.NegativesPerPositive));

    /// <summary>The registry factory of "neumf": plain NeuMF, or NeuMF initialised from the runs named by its pretrain setting.</summary>
    private static BuiltModel Build(NeuMfConfig cfg, ModelBuildContext c)
    {
        var device = TorchSharp.torch.device(c.Device);
        var json = ModelEntry.TorchConfig(cfg, c);
        if (cfg.Pretrain.Length == 0) return new BuiltModel(new NeuMfModel(cfg, c.NumUsers, c.NumItems, c.Seed, device), "torch", json);
        var dirs = cfg.Pretrain.Split(',', StringSplitOptions.TrimEntries);
        using var gmf = LoadGmf(dirs[0], c, device);
        using var mlp = LoadMlp(dirs[1], c, device);
        json["pretrain_gmf_commit"] = ReadResult(dirs[0])["commit"]?.GetValue<string>() ?? "";
        json["pretrain_mlp_commit"] = ReadResult(dirs[1])["commit"]?.GetValue<string>() ?? "";
        return new BuiltModel(NeuMfModel.FromPretrained(cfg, gmf, mlp, device), "torch", json);
    }

    /// <summary>Loads the best checkpoint of a finished GMF or MLP run directory, checking it was trained on the same split.</summary>
    /// <remarks><paramref name="fromOtherEngine"/> may build the model from a checkpoint of another engine (its weights), or return null.</remarks>
    public static TModel LoadPretrained<TConfig, TModel>(string runDirectory, string display, ModelBuildContext c, Func<TConfig, TModel> make,
        Func<TConfig, byte[], TModel?>? fromOtherEngine = null)
        where TConfig : class where TModel : class, ITrainableRecommender
    {
        string dir = Path.GetFullPath(runDirectory);
        string configPath = Path.Combine(dir, "config.json"), resultPath = Path.Combine(dir, "result.json"), ckpt = Path.Combine(dir, "best.ckpt");
        foreach (var f in new[] { configPath, resultPath, ckpt })
            if (!File.Exists(f))
                throw new ArgumentException($"Pre-training run '{dir}' has no {Path.GetFileName(f)}: it must be a finished {display} run with validation (best.ckpt).");
        var result = ReadResult(dir);
        string? trained = result["model"]?.GetValue<string>(), pairs = result["split"]?["train_pairs"]?.GetValue<string>();
        if (!string.Equals(trained, display, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"Pre-training run '{dir}' is a {trained} run, not {display}.");
        if (pairs != c.Train.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new ArgumentException($"Pre-training run '{dir}' was trained on {pairs ?? "?"} training pairs, this split has {c.Train.Count}: use runs on the same split.");
        var node = JsonNode.Parse(File.ReadAllText(configPath))?["model"]
                   ?? throw new InvalidDataException($"{configPath}: no \"model\" section.");
        var cfg = node.Deserialize<TConfig>(ConfigBinder.Json) ?? throw new InvalidDataException($"{configPath}: unreadable model section.");
        var bytes = File.ReadAllBytes(ckpt);
        var other = fromOtherEngine?.Invoke(cfg, bytes);
        var model = other ?? make(cfg);
        if (model.NumUsers != c.NumUsers || model.NumItems != c.NumItems) { model.Dispose(); throw new ArgumentException("Index spaces differ."); }
        if (other is null) model.LoadState(bytes);
        return model;
    }

    /// <summary>The best checkpoint of a finished GMF run of either engine as a TorchSharp <see cref="GmfModel"/> (a run of
    /// the fused engine hands over its weights: <see cref="EmbeddingState"/>).</summary>
    internal static GmfModel LoadGmf(string runDirectory, ModelBuildContext c, Device device) =>
        LoadPretrained<GmfConfig, GmfModel>(runDirectory, "GMF", c, cfg => new GmfModel(cfg, c.NumUsers, c.NumItems, 0, device),
            (cfg, state) => EmbeddingState.ReadWeights(state, "GMF") is { } w
                ? new GmfModel(cfg, new NcfWeights(w.Users, w.Items, w.P, w.Q, null, null, [], [], w.Dense[..cfg.Dim], w.Dense[cfg.Dim]), device) : null);

    /// <summary>The same for a finished MLP run (a fused run's dense parameters are W₁, b₁, …, h, h_bias: <see cref="NcfWeights.FromDense"/>).</summary>
    internal static MlpModel LoadMlp(string runDirectory, ModelBuildContext c, Device device) =>
        LoadPretrained<MlpConfig, MlpModel>(runDirectory, "MLP", c, cfg => new MlpModel(cfg, c.NumUsers, c.NumItems, 0, device),
            (cfg, state) => EmbeddingState.ReadWeights(state, "MLP") is { } w
                ? new MlpModel(cfg, NcfWeights.FromDense(w.Users, w.Items, null, null, w.P, w.Q, cfg.Layers, w.Dense), device) : null);

    /// <summary>The result.json of a finished run (the fields pre-training checks: model, commit, split sizes).</summary>
    private static JsonNode ReadResult(string runDirectory)
    {
        string path = Path.Combine(Path.GetFullPath(runDirectory), "result.json");
        try { return JsonNode.Parse(File.ReadAllText(path)) ?? throw new InvalidDataException($"{path}: empty file."); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not a run result ({e.Message}).", e); }
    }


    /// <summary>Creates a seeded model.</summary>
    public NeuMfModel(NeuMfConfig config, int numUsers, int numItems, long seed, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : this(config, NcfWeights.Init(numUsers, numItems, config.Dim, Checked(config).Layers, seed), device, dtype) { }

    /// <summary>Creates a model from given weights (copied).</summary>
    internal NeuMfModel(NeuMfConfig config, NcfWeights weights, Device? device = null, ScalarType dtype = ScalarType.Float32)
        : base("NeuMF", "NEUMF-TORCH-STATE", config, BuildCore(config, weights, device, dtype)) { }

    private static NeuMfConfig Checked(NeuMfConfig c) { ArgumentNullException.ThrowIfNull(c); c.Validate(); NcfChecks.TorchOptimizer(c.Optimizer); return c; }

    private static NcfCore BuildCore(NeuMfConfig config, NcfWeights weights, Device? device, ScalarType dtype)
    {
        Checked(config);
        if (weights.GmfP is null || weights.MlpP is null) throw new ArgumentException("NeuMF needs both GMF and MLP weights.");
        return new NcfCore("NeuMF", weights, config.Dim, config.Layers, config.Optimizer, config.LearningRate, config.L2, config.Reduction, device, dtype);
    }

    /// <summary>
    /// NeuMF initialised from a trained GMF and a trained MLP (NCF §3.4.1): embeddings and hidden layers copied, output
    /// layer fused with <see cref="NeuMfConfig.PretrainAlpha"/>. Their sizes must match <paramref name="config"/>.
    /// </summary>
    public static NeuMfModel FromPretrained(NeuMfConfig config, GmfModel gmf, MlpModel mlp, Device? device = null, ScalarType dtype = ScalarType.Float32)
    {
        Checked(config);
        ArgumentNullException.ThrowIfNull(gmf);
        ArgumentNullException.ThrowIfNull(mlp);
        if (gmf.NumUsers != mlp.NumUsers || gmf.NumItems != mlp.NumItems)
            throw new ArgumentException($"GMF ({gmf.NumUsers}×{gmf.NumItems}) and MLP ({mlp.NumUsers}×{mlp.NumItems}) were trained on different index spaces.");
        if (gmf.Config.Dim != config.Dim)
            throw new ArgumentException($"The pre-trained GMF has {gmf.Config.Dim} factors but NeuMF dim = {config.Dim}.");
        if (!mlp.Config.Layers.SequenceEqual(config.Layers))
            throw new ArgumentException($"The pre-trained MLP has layers [{string.Join(",", mlp.Config.Layers)}] but NeuMF layers = [{string.Join(",", config.Layers)}].");
        return new NeuMfModel(config, NcfWeights.Fuse(gmf.ExportWeights(), mlp.ExportWeights(), config.PretrainAlpha), device, dtype);
    }
}

/// <summary>
/// What <see cref="GmfModel"/>, <see cref="MlpModel"/> and <see cref="NeuMfModel"/> share beyond their configuration and
/// their paper section: training, scoring, state and description, all forwarded to one NCF core (forward pass, log loss,
/// optimiser), so the three models cannot drift apart. Only the three models of this assembly derive from it.
/// </summary>
/// <typeparam name="TConfig">The model's configuration record.</typeparam>
public abstract class NcfModel<TConfig> : ITrainableRecommender where TConfig : class
{
    private readonly string _stateMagic;

    private protected NcfModel(string name, string stateMagic, TConfig config, NcfCore core)
    {
        Name = name; _stateMagic = stateMagic; Config = config; Core = core;
    }

    /// <summary>The configuration the model was built with.</summary>
    public TConfig Config { get; }
    /// <inheritdoc/>
    public string Name { get; }
    /// <inheritdoc/>
    public int NumUsers => Core.NumUsers;
    /// <inheritdoc/>
    public int NumItems => Core.NumItems;
    /// <summary>Budget (elements) of one per-chunk intermediate in <see cref="ScoreAllItems"/>.</summary>
    public long ScoreBudget { get => Core.ScoreBudget; set => Core.ScoreBudget = value; }
    internal NcfCore Core { get; }

    /// <inheritdoc/>
    public double TrainStep(TrainingBatch batch) => Core.TrainStep(batch);
    /// <inheritdoc/>
    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores) => Core.ScorePairs(users, items, scores);
    /// <inheritdoc/>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores) => Core.ScoreAllItems(users, scores);
    /// <summary>The model's weights (copies).</summary>
    internal NcfWeights ExportWeights() => Core.Export();
    /// <inheritdoc/>
    public byte[] SaveState() => Core.Save(_stateMagic);
    /// <inheritdoc/>
    public void LoadState(byte[] state) => Core.Load(state, _stateMagic);
    /// <inheritdoc/>
    public bool ParametersAreFinite() => TorchSupport.AllFinite(Core.Net);
    /// <inheritdoc/>
    public double MaxAbsParameter() => TorchSupport.MaxAbs(Core.Net);
    /// <inheritdoc/>
    /// <remarks>The configuration's fields, the index spaces, dtype and device; models with an MLP tower list its layers as "64,32,16,8".</remarks>
    public IReadOnlyDictionary<string, object?> Describe()
    {
        var d = TorchSupport.DescribeConfig(Name, Config, NumUsers, NumItems, Core.DType, Core.Device);
        if (Core.Layers is { } layers) d["Layers"] = string.Join(",", layers);
        return d;
    }
    /// <inheritdoc/>
    public void Dispose() => Core.Dispose();
}

/// <summary>
/// The weights of an NCF model (row-major float copies). GMF parts are null for MLP, MLP parts null/empty for GMF.
/// Hidden layer l has W[l] (out × in) and B[l] (out); the output layer is H (GMF factors then MLP factors) and HBias.
/// </summary>
internal sealed record NcfWeights(int NumUsers, int NumItems, float[]? GmfP, float[]? GmfQ, float[]? MlpP, float[]? MlpQ,
    float[][] W, float[][] B, float[] H, float HBias)
{
    /// <summary>Seeded initialisation as NCF's code (see <see cref="NeuMfModel"/>); <paramref name="gmfDim"/> 0 = no GMF part,
    /// <paramref name="layers"/> null = no MLP part.</summary>
    public static NcfWeights Init(int numUsers, int numItems, int gmfDim, int[]? layers, long seed)
    {
        if (numUsers < 1 || numItems < 1) throw new ArgumentException("A model needs at least one user and one item.");
        float[] Normal(long n, string name) => TorchSupport.GaussianInit(n, 0.01, seed, "ncf.init." + name);
        float[] Uniform(long n, double limit, string name)
        {
            var rng = new Rng(seed, "ncf.init." + name);
            var a = new float[n];
            for (long x = 0; x < n; x++) a[x] = (float)((rng.NextDouble() * 2 - 1) * limit);
            return a;
        }
        float[]? gp = null, gq = null, mp = null, mq = null;
        var w = new List<float[]>(); var b = new List<float[]>();
        int factors = 0;
        if (gmfDim > 0)
        {
            gp = Normal((long)numUsers * gmfDim, "gmf_p"); gq = Normal((long)numItems * gmfDim, "gmf_q");
            factors += gmfDim;
        }
        if (layers is not null)
        {
            int e = layers[0] / 2;
            mp = Normal((long)numUsers * e, "mlp_p"); mq = Normal((long)numItems * e, "mlp_q");
            for (int l = 1; l < layers.Length; l++)
            {
                w.Add(Uniform((long)layers[l] * layers[l - 1], Math.Sqrt(6.0 / (layers[l] + layers[l - 1])), $"w{l}"));
                b.Add(new float[layers[l]]);
            }
            factors += layers[^1];
        }
        if (factors == 0) throw new ArgumentException("An NCF model needs a GMF part, an MLP part or both.");
        var h = Uniform(factors, Math.Sqrt(3.0 / factors), "h");
        return new NcfWeights(numUsers, numItems, gp, gq, mp, mq, w.ToArray(), b.ToArray(), h, 0f);
    }

    /// <summary>Weights from embeddings and the dense parameters in <see cref="NcfNet.Trainable"/> order (W₁, b₁, …, W_m, b_m, h, h_bias).</summary>
    public static NcfWeights FromDense(int users, int items, float[]? gp, float[]? gq, float[]? mp, float[]? mq, int[] layers, float[] dense)
    {
        var w = new float[layers.Length - 1][]; var b = new float[layers.Length - 1][];
        int o = 0;
        for (int l = 1; l < layers.Length; l++)
        {
            w[l - 1] = dense[o..(o + layers[l] * layers[l - 1])]; o += layers[l] * layers[l - 1];
            b[l - 1] = dense[o..(o + layers[l])]; o += layers[l];
        }
        return new NcfWeights(users, items, gp, gq, mp, mq, w, b, dense[o..^1], dense[^1]);
    }

    /// <summary>NeuMF weights from a GMF's and an MLP's (NCF §3.4.1): parts copied, output layer fused with α.</summary>
    public static NcfWeights Fuse(NcfWeights gmf, NcfWeights mlp, float alpha)
    {
        if (gmf.GmfP is null || gmf.MlpP is not null) throw new ArgumentException("The first weights must be a GMF's.");
        if (mlp.MlpP is null || mlp.GmfP is not null) throw new ArgumentException("The second weights must be an MLP's.");
        if (gmf.NumUsers != mlp.NumUsers || gmf.NumItems != mlp.NumItems) throw new ArgumentException("GMF and MLP index spaces differ.");
        var h = new float[gmf.H.Length + mlp.H.Length];
        for (int j = 0; j < gmf.H.Length; j++) h[j] = alpha * gmf.H[j];
        for (int j = 0; j < mlp.H.Length; j++) h[gmf.H.Length + j] = (1 - alpha) * mlp.H[j];
        return new NcfWeights(gmf.NumUsers, gmf.NumItems, gmf.GmfP, gmf.GmfQ, mlp.MlpP, mlp.MlpQ, mlp.W, mlp.B, h,
            alpha * gmf.HBias + (1 - alpha) * mlp.HBias);
    }
}

internal static class NcfChecks
{
    public static void Common(int[]? layers, float lr, OptimizerKind optimizer, float l2)
    {
        if (layers is not null)
        {
            if (layers.Length < 1) throw new ArgumentException("Layers must list at least the embedding concatenation size.");
            if (layers[0] < 2 || layers[0] % 2 != 0) throw new ArgumentException($"Layers[0] (concatenated embedding size) must be even and ≥ 2 (got {layers[0]}).");
            foreach (int l in layers) if (l < 1) throw new ArgumentException($"Every layer size must be ≥ 1 (got {l}).");
        }
        if (!(lr > 0) || float.IsInfinity(lr)) throw new ArgumentException($"LearningRate must be a finite number > 0 (got {lr}).");
        if (!(l2 >= 0)) throw new ArgumentException($"L2 must be ≥ 0 (got {l2}).");
    }

    /// <summary>The TorchSharp NCF models update whole tensors (adam, sgd, adagrad, as NCF's Keras code); row-sparse lazy-adam is the fused engine's.</summary>
    public static void TorchOptimizer(OptimizerKind o) { if (o == OptimizerKind.LazyAdam) throw new ArgumentException("lazy-adam is implemented for the NCF models on the fused CPU engine only (their default on a CPU; --engine fused); the TorchSharp engine offers adam, sgd and adagrad."); }
}

/// <summary>Parameters of an NCF network; registered names are the state-dict keys.</summary>
internal sealed class NcfNet : nn.Module
{
    public readonly Parameter? GmfP, GmfQ, MlpP, MlpQ;
    public readonly Parameter[] W, B;
    public readonly Parameter H, HBias;

    public NcfNet(string name, NcfWeights w, int gmfDim, int[]? layers, ScalarType dtype, Device device) : base(name)
    {
        Parameter P(float[] data, long[] shape, string key)
        {
            var p = TorchSupport.MakeParameter(data, shape, dtype, device, true);
            register_parameter(key, p);
            return p;
        }
        int nu = w.NumUsers, ni = w.NumItems;
        if (w.GmfP is not null)
        {
            Check(w.GmfP.Length == (long)nu * gmfDim && w.GmfQ!.Length == (long)ni * gmfDim, "GMF embeddings");
            GmfP = P(w.GmfP, [nu, gmfDim], "gmf_p"); GmfQ = P(w.GmfQ!, [ni, gmfDim], "gmf_q");
        }
        var ws = new List<Parameter>(); var bs = new List<Parameter>();
        if (w.MlpP is not null)
        {
            Check(layers is not null && w.W.Length == layers.Length - 1, "MLP layer count");
            int e = layers![0] / 2;
            Check(w.MlpP.Length == (long)nu * e && w.MlpQ!.Length == (long)ni * e, "MLP embeddings");
            MlpP = P(w.MlpP, [nu, e], "mlp_p"); MlpQ = P(w.MlpQ!, [ni, e], "mlp_q");
            for (int l = 1; l < layers.Length; l++)
            {
                Check(w.W[l - 1].Length == (long)layers[l] * layers[l - 1] && w.B[l - 1].Length == layers[l], $"layer {l}");
                ws.Add(P(w.W[l - 1], [layers[l], layers[l - 1]], $"w{l}"));
                bs.Add(P(w.B[l - 1], [layers[l]], $"b{l}"));
            }
        }
        W = ws.ToArray(); B = bs.ToArray();
        int factors = (GmfP is null ? 0 : gmfDim) + (MlpP is null ? 0 : layers![^1]);
        Check(w.H.Length == factors, "output layer");
        H = P(w.H, [factors], "h");
        HBias = P([w.HBias], [1], "h_bias");
    }

    private static void Check(bool ok, string what)
    {
        if (!ok) throw new ArgumentException($"The given NCF weights do not fit the configuration ({what} has the wrong size).");
    }

    public IEnumerable<(string, Parameter)> Trainable()
    {
        if (GmfP is not null) { yield return ("gmf_p", GmfP); yield return ("gmf_q", GmfQ!); }
        if (MlpP is not null) { yield return ("mlp_p", MlpP); yield return ("mlp_q", MlpQ!); }
        for (int l = 0; l < W.Length; l++) { yield return ($"w{l + 1}", W[l]); yield return ($"b{l + 1}", B[l]); }
        yield return ("h", H);
        yield return ("h_bias", HBias);
    }
}

/// <summary>
/// The shared body of GMF, MLP and NeuMF: forward pass, pointwise log loss, dense optimiser step, scoring and state.
/// One class so the three models cannot drift apart.
/// </summary>
internal sealed class NcfCore : IDisposable
{
    private const int StateVersion = 1;

    private readonly NcfNet _net;
    private readonly ModelOptimizer _optimizer;
    private readonly int _gmfDim;
    private readonly int[]? _layers;
    private readonly float _l2;
    private readonly LossReduction _reduction;
    private readonly OptimizerKind _kind;

    public NcfCore(string name, NcfWeights weights, int gmfDim, int[]? layers, OptimizerKind optimizer, float lr, float l2, LossReduction reduction,
        Device? device, ScalarType dtype)
    {
        Device = device ?? CPU;
        DType = TorchSupport.CheckDType(dtype);
        _gmfDim = weights.GmfP is null ? 0 : gmfDim;
        _layers = weights.MlpP is null ? null : layers;
        _l2 = l2; _reduction = reduction; _kind = optimizer;
        NumUsers = weights.NumUsers; NumItems = weights.NumItems;
        _net = new NcfNet(name, weights, gmfDim, _layers, DType, Device);
        _optimizer = new ModelOptimizer(optimizer, lr, _net.Trainable().ToList());
    }

    public int NumUsers { get; }
    public int NumItems { get; }
    public Device Device { get; }
    public ScalarType DType { get; }
    public long ScoreBudget { get; set; } = LrmlModel.DefaultScoreBudget;
    internal NcfNet Net => _net;
    /// <summary>The MLP tower (null without an MLP part).</summary>
    public int[]? Layers => _layers;

    /// <summary>Logits z of the pairs (u[k], i[k]) (index tensors of equal length).</summary>
    public Tensor Logits(Tensor users, Tensor items)
    {
        Tensor? parts = null;
        if (_net.GmfP is not null)
            parts = _net.GmfP.index_select(0, users) * _net.GmfQ!.index_select(0, items);
        if (_net.MlpP is not null)
        {
            var x = cat([_net.MlpP.index_select(0, users), _net.MlpQ!.index_select(0, items)], 1);
            for (int l = 0; l < _net.W.Length; l++) x = nn.functional.relu(nn.functional.linear(x, _net.W[l], _net.B[l]));
            parts = parts is null ? x : cat([parts, x], 1);
        }
        return parts!.matmul(_net.H).Plus(_net.HBias); // Plus: a + b with a kept-alive Scalar (see KeptScalars)
    }

    /// <summary>Per-example squared norms of every embedding row the pairs look up.</summary>
    private Tensor RowNorms(Tensor users, Tensor items)
    {
        Tensor? s = null;
        void Add(Parameter? t, Tensor idx)
        {
            if (t is null) return;
            var v = t.index_select(0, idx).Squared().sum(-1);
            s = s is null ? v : s.Plus(v);
        }
        Add(_net.GmfP, users); Add(_net.GmfQ, items); Add(_net.MlpP, users); Add(_net.MlpQ, items);
        return s!;
    }

    /// <summary>The batch loss as optimised (reduced) and the summed log loss for logging.</summary>
    public (Tensor Loss, Tensor SummedLogLoss) Loss(TrainingBatch batch)
    {
        int n = batch.Count, k = batch.NegativesPerPositive;
        var users = TorchSupport.Index(batch.Users.AsSpan(0, n), Device);
        var pos = TorchSupport.Index(batch.Positives.AsSpan(0, n), Device);
        var neg = TorchSupport.Index(batch.Negatives.AsSpan(0, n * k), Device);
        var negUsers = users.repeat_interleave(k);
        var zPos = Logits(users, pos);
        var zNeg = Logits(negUsers, neg);
        // Plus, Softplus: a + b, softplus with kept-alive Scalars (see KeptScalars)
        var summed = (-zPos).Softplus().sum().Plus(zNeg.Softplus().sum());
        var loss = summed;
        using Scalar l2 = ((double)_l2).ToScalar(), count = ((double)(n * (1 + k))).ToScalar();
        if (_l2 > 0) loss = loss.Plus(RowNorms(users, pos).sum().Plus(RowNorms(negUsers, neg).sum()).mul(l2));
        if (_reduction == LossReduction.Mean) loss = loss.div(count);
        return (loss, summed);
    }

    public double TrainStep(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var (loss, summed) = Loss(batch);
        _net.zero_grad();
        loss.backward();
        _optimizer.StepDense(0, 0);
        return TorchSupport.Scalar(summed);
    }

    /// <summary>Optimised loss and dense gradients of every trainable tensor (in <see cref="NcfNet.Trainable"/> order), without updating.</summary>
    public (double Loss, double SummedLogLoss, Dictionary<string, double[]> Grads) ComputeGradients(TrainingBatch batch)
    {
        TorchSupport.CheckBatch(batch, NumUsers, NumItems);
        using var scope = NewDisposeScope();
        var (loss, summed) = Loss(batch);
        _net.zero_grad();
        loss.backward();
        var g = new Dictionary<string, double[]>();
        foreach (var (name, p) in _net.Trainable()) g[name] = TorchSupport.ToDoubles(p.grad!);
        _net.zero_grad();
        return (TorchSupport.Scalar(loss), TorchSupport.Scalar(summed), g);
    }

    public void ScorePairs(ReadOnlySpan<int> users, ReadOnlySpan<int> items, Span<float> scores) =>
        TorchSupport.ScorePairsChunked(users, items, scores, NumUsers, NumItems, Device, Logits);

    /// <summary>
    /// All-item scores: the GMF part as (p_u ⊙ h_GMF)·Qᵀ; the MLP's first layer split into a user half and an item half
    /// (W₁[p'; q'] = W₁ᵘp' + W₁ⁱq'), broadcast-added over the chunk, then the remaining layers on every pair.
    /// </summary>
    public void ScoreAllItems(ReadOnlySpan<int> users, Span<float> scores)
    {
        int widest = Math.Max(1, _layers is null ? 1 : _layers.Skip(1).DefaultIfEmpty(_layers[0]).Max());
        TorchSupport.ScoreAllChunked(users, scores, NumUsers, NumItems, widest, ScoreBudget, Device, (uIdx, i0, n) =>
        {
            Tensor? z = null;
            if (_net.GmfP is not null)
            {
                var hg = _net.H.narrow(0, 0, _gmfDim);
                z = (_net.GmfP.index_select(0, uIdx) * hg).matmul(_net.GmfQ!.narrow(0, i0, n).t());
            }
            if (_net.MlpP is not null)
            {
                var pu = _net.MlpP.index_select(0, uIdx);
                var qi = _net.MlpQ!.narrow(0, i0, n);
                Tensor x;
                if (_net.W.Length == 0) x = cat([pu.unsqueeze(1).expand(pu.shape[0], n, pu.shape[1]), qi.unsqueeze(0).expand(pu.shape[0], n, qi.shape[1])], 2);
                else
                {
                    long e = pu.shape[1];
                    var w1 = _net.W[0];
                    var a = pu.matmul(w1.narrow(1, 0, e).t());                          // uc × h1
                    var b = qi.matmul(w1.narrow(1, e, e).t()).Plus(_net.B[0]);          // ic × h1
                    x = nn.functional.relu(a.unsqueeze(1).Plus(b.unsqueeze(0)));        // uc × ic × h1
                    for (int l = 1; l < _net.W.Length; l++) x = nn.functional.relu(nn.functional.linear(x, _net.W[l], _net.B[l]));
                }
                var hm = _net.H.narrow(0, _gmfDim, _net.H.shape[0] - _gmfDim);
                var zm = x.matmul(hm);
                z = z is null ? zm : z.Plus(zm);
            }
            return z!.Plus(_net.HBias);
        });
    }

    public NcfWeights Export()
    {
        float[]? F(Parameter? p) => p is null ? null : TorchSupport.ToFloats(p);
        return new NcfWeights(NumUsers, NumItems, F(_net.GmfP), F(_net.GmfQ), F(_net.MlpP), F(_net.MlpQ),
            _net.W.Select(TorchSupport.ToFloats).ToArray(), _net.B.Select(TorchSupport.ToFloats).ToArray(),
            TorchSupport.ToFloats(_net.H), TorchSupport.ToFloats(_net.HBias)[0]);
    }

    private string Shape() => $"{NumUsers}x{NumItems}|gmf{_gmfDim}|mlp[{(_layers is null ? "" : string.Join(",", _layers))}]|{(int)DType}|{(int)_kind}";

    public byte[] Save(string magic) => TorchSupport.SaveState(_net, _optimizer, w =>
    {
        w.Write(magic); w.Write(StateVersion); w.Write(Shape());
    });

    public void Load(byte[] state, string magic) => TorchSupport.LoadState(state, _net, _optimizer, r =>
    {
        string m;
        try { m = r.ReadString(); } catch (EndOfStreamException) { throw new InvalidDataException($"Not a {magic}."); }
        if (m != magic) throw new InvalidDataException($"Not a {magic} (found '{m}').");
        int v = r.ReadInt32();
        if (v != StateVersion) throw new InvalidDataException($"Unsupported state version {v}.");
        string shape = r.ReadString();
        if (shape != Shape()) throw new InvalidDataException($"State shape {shape} does not match this model's {Shape()}.");
    });

    public void Dispose()
    {
        _optimizer.Dispose();
        _net.Dispose();
    }
}
