using TorchSharp;

namespace Lrml.Training;

/// <summary>
/// Sets the number of compute threads once for the process: TorchSharp's intra-op pool (OpenMP inside
/// LibTorch) and the kit's own kernels read the same value, so two pools never oversubscribe the cores.
/// </summary>
internal static class ComputeThreads
{
    private static int _threads = Math.Max(1, Environment.ProcessorCount);

    /// <summary>The current thread budget.</summary>
    public static int Current => _threads;

    /// <summary>Sets the thread budget for TorchSharp and the kit.</summary>
    public static void Set(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), "threads must be ≥ 1.");
        _threads = threads;
        torch.set_num_threads(threads);
    }
}
