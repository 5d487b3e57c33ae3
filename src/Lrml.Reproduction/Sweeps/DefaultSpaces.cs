using System.Linq.Expressions;
using Lrml.Models;
using Lrml.Training;

namespace Lrml.Reproduction.Sweeps;

/// <summary>
/// The declared default search space of every model, so <c>lrml sweep --model X</c> works without --space and every model of
/// a comparison is tuned the same way: each space has the model's published/common ranges for its 2–3 most influential
/// settings plus its trainer settings held fixed, and every model gets the same trial budget (the profile's), grids larger
/// than the budget being subsampled with the same seed.
/// <list type="table">
/// <item><term>gmf</term><description>dim ∈ {8,16,32,64} (NCF's factors), learning_rate ∈ {5e-4,1e-3,2e-3}; batch 256, 4 negatives (NCF).</description></item>
/// <item><term>mlp</term><description>layers ∈ {[32,16,8],[64,32,16,8],[128,64,32,16]}, learning_rate ∈ {5e-4,1e-3,2e-3}; batch 256, 4 negatives.</description></item>
/// <item><term>neumf</term><description>dim ∈ {8,16,32}, layers ∈ {[64,32,16,8],[128,64,32,16]}, learning_rate ∈ {5e-4,1e-3,2e-3}; batch 256, 4 negatives.
/// With pre-training (SweepSpec.PretrainFrom) dim/layers come from the GMF/MLP sweeps and the space is
/// optimizer = sgd, learning_rate ∈ {1e-3,3e-3,1e-2,3e-2} (NCF: SGD 1e-3).</description></item>
/// <item><term>bpr</term><description>dim ∈ {32,64,128}, learning_rate ∈ {3e-4,1e-3,3e-3}, l2 ∈ {1e-3,1e-2}; batch 1024, 1 negative.</description></item>
/// <item><term>cml</term><description>dim ∈ {64,100}, margin ∈ {0.1,0.5,1.0}, learning_rate ∈ {3e-4,1e-3,3e-3}; batch 1024, 1 negative
/// (add rank_weighting=warp as a fixed setting for CML+WARP).</description></item>
/// <item><term>transcf</term><description>dim ∈ {64,100}, margin ∈ {0.1,0.5,1.0}, learning_rate ∈ {3e-4,1e-3,3e-3}, distance_weight ∈ {0,0.1};
/// batch 1024, 1 negative.</description></item>
/// <item><term>lrml</term><description>negative_relation ∈ {reuse, recompute} (the authors' reuse degrades after a few epochs on ML-1M; which one
/// wins is data-dependent, so it is tuned), dim ∈ {64,100}, slots ∈ {10,20}, margin ∈ {0.1,0.5,1.0}, learning_rate ∈ {3e-4,1e-3,3e-3}; batch 1024, 1 negative.</description></item>
/// <item><term>pop</term><description>no settings: one trial, one seed (it is not trained).</description></item>
/// </list>
/// Every pairwise model (BPR-MF, CML, TransCF, LRML: Adam, batch 1024, one negative) searches the same learning rates
/// (<see cref="PairwiseRates"/>), so no model is favoured by a grid another does not get; the NCF models keep NCF's own grid
/// around Adam's 1e-3 at batch 256. Trial 0 of every sweep is the model's default configuration (<see cref="Sweep.WithDefaultFirst"/>).
/// </summary>
internal static class DefaultSpaces
{
    /// <summary>The learning rates of every pairwise model's space: one grid, half a decade apart, around the defaults.</summary>
    public static readonly string[] PairwiseRates = ["3e-4", "1e-3", "3e-3"];

    /// <summary>The default space of a model (a new instance; a model that declares none gets an empty space: one trial with
    /// its defaults, see <see cref="Declares"/>).</summary>
    public static SearchSpace For(string model, bool pretrainedNeuMf = false) =>
        Declared(ModelRegistry.Get(model).Name, pretrainedNeuMf) ?? new SearchSpace();

    /// <summary>Whether a model declares a default space here (a model added without one still trains and sweeps: its sweep
    /// runs one trial with its default settings unless given a space).</summary>
    public static bool Declares(string model) => Declared(ModelRegistry.Get(model).Name, false) is not null;

    private static SearchSpace? Declared(string name, bool pretrainedNeuMf)
    {
        var s = new SearchSpace();
        // keys are named through each model's config record (a renamed property breaks the build); values stay setting text,
        // which is part of each trial's identity
        void V<T>(Expression<Func<T, object?>> key, params string[] values) where T : class => s.Add(new Dimension(ConfigBinder.Key(key), DimensionKind.Values, values));
        switch (name)
        {
            case "gmf":
                V<GmfConfig>(c => c.Dim, "8", "16", "32", "64"); V<GmfConfig>(c => c.LearningRate, "5e-4", "1e-3", "2e-3"); Ncf(); break;
            case "mlp":
                V<MlpConfig>(c => c.Layers, "[32,16,8]", "[64,32,16,8]", "[128,64,32,16]"); V<MlpConfig>(c => c.LearningRate, "5e-4", "1e-3", "2e-3"); Ncf(); break;
            case "neumf" when pretrainedNeuMf:
                V<NeuMfConfig>(c => c.Optimizer, "sgd"); V<NeuMfConfig>(c => c.LearningRate, "1e-3", "3e-3", "1e-2", "3e-2"); Ncf(); break;
            case "neumf":
                V<NeuMfConfig>(c => c.Dim, "8", "16", "32"); V<NeuMfConfig>(c => c.Layers, "[64,32,16,8]", "[128,64,32,16]");
                V<NeuMfConfig>(c => c.LearningRate, "5e-4", "1e-3", "2e-3"); Ncf(); break;
            case "bpr":
                V<BprConfig>(c => c.Dim, "32", "64", "128"); V<BprConfig>(c => c.LearningRate, PairwiseRates); V<BprConfig>(c => c.L2, "1e-3", "1e-2"); Pairwise(); break;
            case "cml":
                V<CmlConfig>(c => c.Dim, "64", "100"); V<CmlConfig>(c => c.Margin, "0.1", "0.5", "1.0"); V<CmlConfig>(c => c.LearningRate, PairwiseRates); Pairwise(); break;
            case "transcf":
                V<TransCfConfig>(c => c.Dim, "64", "100"); V<TransCfConfig>(c => c.Margin, "0.1", "0.5", "1.0"); V<TransCfConfig>(c => c.LearningRate, PairwiseRates);
                V<TransCfConfig>(c => c.DistanceWeight, "0", "0.1"); Pairwise(); break;
            case "lrml":
                V<LrmlConfig>(c => c.NegativeRelation, "reuse", "recompute"); V<LrmlConfig>(c => c.Dim, "64", "100"); V<LrmlConfig>(c => c.Slots, "10", "20");
                V<LrmlConfig>(c => c.Margin, "0.1", "0.5", "1.0"); V<LrmlConfig>(c => c.LearningRate, PairwiseRates); Pairwise(); break;
            case "pop":
                break;   // no settings: one trial
            default:
                return null;
        }
        return s;

        void Ncf() { V<TrainConfig>(t => t.BatchSize, "256"); s.Add(Dimension.Fixed(Sweep.NegativesAlias, "4")); }
        void Pairwise() { V<TrainConfig>(t => t.BatchSize, "1024"); s.Add(Dimension.Fixed(Sweep.NegativesAlias, "1")); }
    }
}
