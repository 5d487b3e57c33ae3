using Lrml.Protocols;
using Lrml.Training;
using Lrml.Util;

namespace Lrml.Models;

/// <summary>
/// The sampling and weights of LRML's WARP-style rank weighting (<see cref="LrmlRankWeighting.Warp"/>), shared by both
/// engines so they draw the same negatives and compute the same weights: for every positive (u, i⁺) of a batch, U negatives
/// j are drawn uniformly from the items u has no training interaction with (stream "lrml.warp", positives in batch order,
/// then j), the impostors M = #{j : margin + D(u,i⁺) − D(u,j) &gt; 0} are counted (D(u,j) with the relation the negative pair
/// uses: the positive's r under reuse, r(u,j) under recompute), and the positive's hinge terms are weighted by
/// w = log(1 + ⌊J·M/U⌋) with J the number of items (the rank estimate of Hsieh et al. 2017, §3.3; integer arithmetic, so
/// both engines agree exactly). The drawn negatives only set the weight: they receive no gradient and are not rows the
/// step touches.
/// </summary>
internal sealed class LrmlWarp
{
    private readonly NegativeSampler _sampler;
    private readonly Rng _rng;
    private readonly int _items;

    public LrmlWarp(UserItems positives, int numUsers, int numItems, int negatives, long seed)
    {
        ArgumentNullException.ThrowIfNull(positives);
        if (positives.NumUsers != numUsers || positives.NumItems != numItems)
            throw new ArgumentException($"positives are {positives.NumUsers}×{positives.NumItems} but the model is {numUsers}×{numItems}.");
        _sampler = new NegativeSampler(positives);
        _rng = new Rng(seed, "lrml.warp");
        _items = numItems;
        Negatives = negatives;
    }

    /// <summary>U, negatives drawn per positive.</summary>
    public int Negatives { get; }

    /// <summary>The random stream (its state follows the model's state).</summary>
    public Rng Rng => _rng;

    /// <summary>The U negatives of every positive of <paramref name="batch"/> (row-major count × U). A training step advances
    /// the stream; a diagnostic call (<paramref name="advance"/> false) draws the same negatives from a copy and leaves it.</summary>
    public int[] Draw(TrainingBatch batch, bool advance)
    {
        var rng = advance ? _rng : _rng.Clone();
        int n = batch.Count, u = Negatives;
        var drawn = new int[n * u];
        for (int x = 0; x < n; x++)
            for (int j = 0; j < u; j++) drawn[x * u + j] = _sampler.Sample(batch.Users[x], rng);
        return drawn;
    }

    /// <summary>w = log(1 + ⌊J·M/U⌋) for M impostors among the U negatives.</summary>
    public float Weight(int impostors) => (float)Math.Log(1.0 + (long)_items * impostors / Negatives);
}
