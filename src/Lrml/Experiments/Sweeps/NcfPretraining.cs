using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Models;
using static TorchSharp.torch;

namespace Lrml.Experiments.Sweeps;

/// <summary>
/// NeuMF with GMF/MLP pre-training (He et al., WWW 2017, §3.4.1) on the kit's one experiment path.
/// <para>Design: pre-training is a NeuMF setting, <c>pretrain=gmf_run_dir,mlp_run_dir</c>, naming two finished run directories
/// (config.json, result.json, best.ckpt) of a GMF and an MLP trained on the same split. The registry's factory
/// (<see cref="BuildNeuMf"/>) loads their best checkpoints and fuses them (<see cref="NeuMfModel.FromPretrained"/>), so
/// <c>lrml train --model neumf --set pretrain=A,B --set optimizer=sgd</c> works like any run. <see cref="Run"/> orchestrates the
/// three runs (GMF, MLP, then NeuMF, same split and seed, resumable), and sweeps call <see cref="EnsureRun"/> per seed.</para>
/// </summary>
public static class NcfPretraining
{
    /// <summary>The registry factory of "neumf": plain NeuMF, or NeuMF initialised from the runs named by its pretrain setting.</summary>
    public static BuiltModel BuildNeuMf(ModelBuildContext c)
    {
        var cfg = ConfigBinder.Apply(new NeuMfConfig(), c.Settings);
        cfg.Validate();
        var device = TorchSharp.torch.device(c.Device);
        var json = ConfigBinder.ToJson(cfg);
        json["engine"] = "torch";
        json["device"] = c.Device;
        if (cfg.Pretrain.Length == 0) return new BuiltModel(new NeuMfModel(cfg, c.NumUsers, c.NumItems, c.Seed, device), "torch", json);
        var dirs = cfg.Pretrain.Split(',', StringSplitOptions.TrimEntries);
        using var gmf = Load<GmfConfig, GmfModel>(dirs[0], "GMF", c, cfg => new GmfModel(cfg, c.NumUsers, c.NumItems, 0, device));
        using var mlp = Load<MlpConfig, MlpModel>(dirs[1], "MLP", c, cfg => new MlpModel(cfg, c.NumUsers, c.NumItems, 0, device));
        json["pretrain_gmf_commit"] = RunResult.Load(Path.Combine(dirs[0], "result.json")).Commit;
        json["pretrain_mlp_commit"] = RunResult.Load(Path.Combine(dirs[1], "result.json")).Commit;
        return new BuiltModel(NeuMfModel.FromPretrained(cfg, gmf, mlp, device), "torch", json);
    }

    /// <summary>Loads the best checkpoint of a finished GMF or MLP run directory, checking it was trained on the same split.</summary>
    public static TModel Load<TConfig, TModel>(string runDirectory, string display, ModelBuildContext c, Func<TConfig, TModel> make)
        where TConfig : class where TModel : ITrainableRecommender
    {
        string dir = Path.GetFullPath(runDirectory);
        string configPath = Path.Combine(dir, "config.json"), resultPath = Path.Combine(dir, "result.json"), ckpt = Path.Combine(dir, "best.ckpt");
        foreach (var f in new[] { configPath, resultPath, ckpt })
            if (!File.Exists(f))
                throw new ArgumentException($"Pre-training run '{dir}' has no {Path.GetFileName(f)}: it must be a finished {display} run with validation (best.ckpt).");
        var result = RunResult.Load(resultPath);
        if (!string.Equals(result.Model, display, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"Pre-training run '{dir}' is a {result.Model} run, not {display}.");
        if (!result.Split.TryGetValue("train_pairs", out var pairs) || pairs != c.Train.Count.ToString(System.Globalization.CultureInfo.InvariantCulture))
            throw new ArgumentException($"Pre-training run '{dir}' was trained on {pairs ?? "?"} training pairs, this split has {c.Train.Count}: use runs on the same split.");
        var node = JsonNode.Parse(File.ReadAllText(configPath))?["model"]
                   ?? throw new InvalidDataException($"{configPath}: no \"model\" section.");
        var cfg = node.Deserialize<TConfig>(ConfigBinder.Json) ?? throw new InvalidDataException($"{configPath}: unreadable model section.");
        var model = make(cfg);
        if (model.NumUsers != c.NumUsers || model.NumItems != c.NumItems) { model.Dispose(); throw new ArgumentException("Index spaces differ."); }
        model.LoadState(File.ReadAllBytes(ckpt));
        return model;
    }

    /// <summary>Runs <paramref name="spec"/> into <paramref name="directory"/> unless it already holds a finished run of the same
    /// <see cref="RunIdentity"/> (then that run is used; a run of another computation there is trained again,
    /// see <see cref="RunStore.RunOrLoad"/>); returns the directory.</summary>
    public static string EnsureRun(RunSpec spec, ExperimentContext context, string directory)
    {
        var ctx = new ExperimentContext { Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = context.Observer, Overwrite = true, SaveCheckpoints = true };
        RunStore.RunOrLoad(spec, ctx, directory);
        return directory;
    }

    /// <summary>
    /// NCF's recipe in one call: trains <paramref name="gmf"/> and <paramref name="mlp"/> (same dataset, protocol, split and
    /// seed as <paramref name="neumf"/>) into directory/gmf and directory/mlp, then NeuMF initialised from their best states into
    /// directory/neumf. Finished parts are reused, so an interrupted call resumes.
    /// </summary>
    public static RunOutcome Run(RunSpec neumf, RunSpec gmf, RunSpec mlp, ExperimentContext context, string directory)
    {
        foreach (var (s, name) in new[] { (gmf, "gmf"), (mlp, "mlp") })
            if (s.Dataset != neumf.Dataset || s.Protocol != neumf.Protocol || s.SplitSeed != neumf.SplitSeed || s.SampledNegatives != neumf.SampledNegatives)
                throw new ArgumentException($"The {name} pre-training run must use NeuMF's dataset, protocol and split.");
        string g = EnsureRun(gmf, context, Path.Combine(directory, "gmf"));
        string m = EnsureRun(mlp, context, Path.Combine(directory, "mlp"));
        var settings = neumf.Settings.Where(kv => ConfigBinder.Normalise(kv.Key) != "pretrain").ToList();
        settings.Add(new("pretrain", g + "," + m));
        var ctx = new ExperimentContext { Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = context.Observer, Overwrite = true, SaveCheckpoints = context.SaveCheckpoints };
        return Experiment.Run(neumf with { Settings = settings }, ctx, Path.Combine(directory, "neumf"));
    }
}
