using System.Text.Json;
using System.Text.Json.Nodes;
using Lrml.Models;
using static TorchSharp.torch;

using Lrml.Experiments;

namespace Lrml.Reproduction.Sweeps;

/// <summary>
/// NeuMF with GMF/MLP pre-training (He et al., WWW 2017, §3.4.1) on the kit's one experiment path.
/// <para>Design: pre-training is a NeuMF setting, <c>pretrain=gmf_run_dir,mlp_run_dir</c>, naming two finished run directories
/// (config.json, result.json, best.ckpt) of a GMF and an MLP trained on the same split. The registry's factory
/// (NeuMfModel.Build, in NeuMf.cs) loads their best checkpoints and fuses them (<see cref="NeuMfModel.FromPretrained"/>), so
/// <c>lrml train --model neumf --set pretrain=A,B --set optimizer=sgd</c> works like any run. <see cref="Run"/> orchestrates the
/// three runs (GMF, MLP, then NeuMF, same split and seed, resumable), and sweeps call <see cref="EnsureRun"/> per seed.</para>
/// </summary>
internal static class NcfPretraining
{
    /// <summary>Runs <paramref name="spec"/> into <paramref name="directory"/> unless it already holds a finished run of the same
    /// <see cref="RunIdentity"/> (then that run is used; a run of another computation there is trained again,
    /// see <see cref="RunStore.RunOrLoad"/>); returns the directory.</summary>
    public static string EnsureRun(RunSpec spec, ExperimentContext context, string directory)
    {
        var ctx = new ExperimentContext { Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = context.Observer, Overwrite = true, SaveCheckpoints = true, KeepCheckpoints = context.KeepCheckpoints };
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
        var pretrain = ConfigBinder.Pair<NeuMfConfig>(c => c.Pretrain, g + "," + m);
        var settings = neumf.Settings.Where(kv => ConfigBinder.Normalise(kv.Key) != ConfigBinder.Normalise(pretrain.Key)).ToList();
        settings.Add(pretrain);
        var ctx = new ExperimentContext { Data = context.Data, ResultsRoot = context.ResultsRoot, Observer = context.Observer, Overwrite = true, SaveCheckpoints = context.SaveCheckpoints, KeepCheckpoints = context.KeepCheckpoints };
        return Experiment.Run(neumf with { Settings = settings }, ctx, Path.Combine(directory, "neumf"));
    }
}
