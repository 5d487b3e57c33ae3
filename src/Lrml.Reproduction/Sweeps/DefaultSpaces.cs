using Lrml.Models;

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
/// <item><term>bpr</term><description>dim ∈ {32,64,128}, learning_rate ∈ {1e-3,3e-3}, l2 ∈ {1e-3,1e-2}; batch 1024, 1 negative.</description></item>
/// <item><term>cml</term><description>dim ∈ {64,100}, margin ∈ {0.1,0.5,1.0}, learning_rate ∈ {3e-4,1e-3}; batch 1024, 1 negative
/// (add rank_weighting=warp as a fixed setting for CML+WARP).</description></item>
/// <item><term>transcf</term><description>dim ∈ {64,100}, margin ∈ {0.1,0.5,1.0}, learning_rate ∈ {3e-4,1e-3}, distance_weight ∈ {0,0.1};
/// batch 1024, 1 negative.</description></item>
/// <item><term>lrml</term><description>negative_relation ∈ {reuse, recompute} (the authors' reuse degrades after a few epochs on ML-1M; which one
/// wins is data-dependent, so it is tuned), dim ∈ {64,100}, slots ∈ {10,20}, margin ∈ {0.1,0.5,1.0}, learning_rate ∈ {3e-4,1e-3}; batch 1024, 1 negative.</description></item>
/// <item><term>pop</term><description>no settings: one trial.</description></item>
/// </list>
/// </summary>
internal static class DefaultSpaces
{
    /// <summary>The default space of a model (a new instance; unknown models get an empty space).</summary>
    public static SearchSpace For(string model, bool pretrainedNeuMf = false)
    {
        string name = ModelRegistry.Get(model).Name;
        var s = new SearchSpace();
        void V(string key, params string[] values) => s.Add(new Dimension(key, DimensionKind.Values, values));
        switch (name)
        {
            case "gmf":
                V("dim", "8", "16", "32", "64"); V("learning_rate", "5e-4", "1e-3", "2e-3"); Ncf(); break;
            case "mlp":
                V("layers", "[32,16,8]", "[64,32,16,8]", "[128,64,32,16]"); V("learning_rate", "5e-4", "1e-3", "2e-3"); Ncf(); break;
            case "neumf" when pretrainedNeuMf:
                V("optimizer", "sgd"); V("learning_rate", "1e-3", "3e-3", "1e-2", "3e-2"); Ncf(); break;
            case "neumf":
                V("dim", "8", "16", "32"); V("layers", "[64,32,16,8]", "[128,64,32,16]"); V("learning_rate", "5e-4", "1e-3", "2e-3"); Ncf(); break;
            case "bpr":
                V("dim", "32", "64", "128"); V("learning_rate", "1e-3", "3e-3"); V("l2", "1e-3", "1e-2"); Pairwise(); break;
            case "cml":
                V("dim", "64", "100"); V("margin", "0.1", "0.5", "1.0"); V("learning_rate", "3e-4", "1e-3"); Pairwise(); break;
            case "transcf":
                V("dim", "64", "100"); V("margin", "0.1", "0.5", "1.0"); V("learning_rate", "3e-4", "1e-3"); V("distance_weight", "0", "0.1"); Pairwise(); break;
            case "lrml":
                V("negative_relation", "reuse", "recompute"); V("dim", "64", "100"); V("slots", "10", "20"); V("margin", "0.1", "0.5", "1.0"); V("learning_rate", "3e-4", "1e-3"); Pairwise(); break;
        }
        return s;

        void Ncf() { V("batch_size", "256"); V("negatives", "4"); }
        void Pairwise() { V("batch_size", "1024"); V("negatives", "1"); }
    }
}
