namespace Lrml.Training;

/// <summary>
/// Early stopping on a validation metric where higher is better: training stops once the metric has not
/// improved by more than <see cref="MinDelta"/> for <see cref="Patience"/> consecutive evaluations.
/// </summary>
internal sealed class EarlyStopping
{
    public int Patience { get; }
    public double MinDelta { get; }

    /// <summary>Best value seen (−∞ before the first evaluation).</summary>
    public double Best { get; private set; } = double.NegativeInfinity;

    /// <summary>Epoch of the best value (0 before the first evaluation).</summary>
    public int BestEpoch { get; private set; }

    /// <summary>Evaluations since the last improvement.</summary>
    public int BadEvaluations { get; private set; }

    public EarlyStopping(int patience, double minDelta = 0)
    {
        if (patience < 1) throw new ArgumentOutOfRangeException(nameof(patience), "patience must be ≥ 1.");
        Patience = patience; MinDelta = minDelta;
    }

    /// <summary>Records a validation value. Returns true when it is a new best.</summary>
    public bool Observe(int epoch, double value)
    {
        if (double.IsNaN(value)) throw new ArgumentException($"Validation metric is NaN at epoch {epoch}.");
        if (value > Best + MinDelta || BestEpoch == 0)
        {
            Best = value; BestEpoch = epoch; BadEvaluations = 0;
            return true;
        }
        BadEvaluations++;
        return false;
    }

    /// <summary>Whether patience is exhausted.</summary>
    public bool ShouldStop => BadEvaluations >= Patience;

    /// <summary>Restores the state (for resuming a run).</summary>
    public void Restore(double best, int bestEpoch, int badEvaluations)
    {
        Best = best; BestEpoch = bestEpoch; BadEvaluations = badEvaluations;
    }
}
