using Lrml.Models;

namespace Lrml.Fast;

/// <summary>The engine room's one registration point with the paper library.</summary>
public static class FastEngines
{
    /// <summary>
    /// Adds LRML's "fused" CPU engine to <see cref="ModelRegistry"/> (idempotent). It starts from the same initial
    /// weights as the TorchSharp model for a seed (<see cref="LrmlParameters.Initialize"/>) and computes the same loss
    /// and gradients (parity tests), several times faster on a CPU.
    /// </summary>
    /// <remarks>Also adds the "fused" engine of BPR-MF, CML, GMF, MLP and NeuMF (<see cref="EmbeddingEngine"/>: one engine,
    /// each model a per-example kernel, MLP and NeuMF one chunk-wise NCF kernel of small GEMMs), their default on a CPU for
    /// every setting it implements (all of BPR-MF, GMF and MLP; CML without the covariance regulariser; NeuMF without pre-training,
    /// which stays on torch); and TransCF's (<see cref="TransCfFused"/>: the engine's optimiser and GEMM scorer around its
    /// neighbourhood means; every setting). "--engine torch" keeps the TorchSharp reference.</remarks>
    public static void Register()
    {
        ModelRegistry.RegisterEngine("lrml", "fused", c =>
        {
            var cfg = ConfigBinder.Apply(new LrmlConfig(), c.Settings);
            cfg.Validate();
            var init = LrmlParameters.Initialize(cfg, c.NumUsers, c.NumItems, c.Seed);
            return new LrmlFused(cfg, init, new FusedOptions { Threads = c.Threads }, c.Train, c.Seed);
        });
        ModelRegistry.RegisterEngine("bpr", "fused", c => EmbeddingModels.Bpr(ConfigBinder.Bind<BprConfig>(c.Settings), c.NumUsers, c.NumItems, c.Seed, c.Threads), _ => true);
        ModelRegistry.RegisterEngine("cml", "fused", c => EmbeddingModels.Cml(ConfigBinder.Bind<CmlConfig>(c.Settings), c.NumUsers, c.NumItems, c.Seed, c.Threads, c.Train),
            s => Valid(s, out CmlConfig? cfg) && EmbeddingModels.SupportsCml(cfg!));
        ModelRegistry.RegisterEngine("transcf", "fused", c => TransCfFused.Create(ConfigBinder.Bind<TransCfConfig>(c.Settings), c.Train, c.Seed, c.Threads), _ => true);
        ModelRegistry.RegisterEngine("gmf", "fused", c => EmbeddingModels.Gmf(ConfigBinder.Bind<GmfConfig>(c.Settings), c.NumUsers, c.NumItems, c.Seed, c.Threads), _ => true);
        ModelRegistry.RegisterEngine("mlp", "fused", c => EmbeddingModels.Mlp(ConfigBinder.Bind<MlpConfig>(c.Settings), c.NumUsers, c.NumItems, c.Seed, c.Threads), _ => true);
        ModelRegistry.RegisterEngine("neumf", "fused", c => EmbeddingModels.NeuMf(ConfigBinder.Bind<NeuMfConfig>(c.Settings), c.NumUsers, c.NumItems, c.Seed, c.Threads),
            s => Valid(s, out NeuMfConfig? cfg) && cfg!.Pretrain.Length == 0);
    }

    private static bool Valid<T>(IReadOnlyList<KeyValuePair<string, string>> settings, out T? config) where T : class, IModelConfig, new()
    {
        try { config = ConfigBinder.Bind<T>(settings); return true; }
        catch (ArgumentException) { config = null; return false; }
    }
}
