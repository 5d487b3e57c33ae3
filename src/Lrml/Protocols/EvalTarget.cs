namespace Lrml.Protocols;

/// <summary>Which held-out set to evaluate.</summary>
public enum EvalTarget
{
    /// <summary>The validation set (tuning and early stopping).</summary>
    Validation,
    /// <summary>The test set (reported once).</summary>
    Test,
}
