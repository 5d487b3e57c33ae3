using System.Diagnostics;
using Lrml.Models;
using Lrml.Protocols;
using Lrml.Util;

namespace Lrml.Training;

/// <summary>What the trainer reports after each epoch (one JSON line of the epoch log).</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">Sum of batch losses over the epoch.</param>
/// <param name="MeanLoss">Loss per training positive.</param>
/// <param name="TrainSeconds">Wall time of the optimisation part of the epoch (sampling included).</param>
/// <param name="EvalSeconds">Wall time of the validation evaluation (0 when not evaluated).</param>
/// <param name="Validation">Validation metrics, or null when this epoch was not evaluated.</param>
/// <param name="IsBest">Whether this epoch became the best so far.</param>
/// <param name="Steps">Optimiser steps in this epoch.</param>
public sealed record EpochRecord(int Epoch, double Loss, double MeanLoss, double TrainSeconds, double EvalSeconds,
    IReadOnlyDictionary<string, double>? Validation, bool IsBest, int Steps)
{
    /// <summary>Measurements of the model at the end of the epoch from <see cref="Trainer.EpochDiagnostics"/> (e.g. LRML's
    /// memory usage, <see cref="MemoryUsage.Keys"/>), or null. NaN means "not measured" (e.g. gradients of a frozen memory).</summary>
    public IReadOnlyDictionary<string, double>? Diagnostics { get; init; }
}

/// <summary>Live progress inside an epoch (for progress bars).</summary>
public readonly record struct TrainProgress(int Epoch, int MaxEpochs, int Step, int StepsPerEpoch, double LossSoFar, int Seen);

/// <summary>The result of <see cref="Trainer.Fit"/>.</summary>
public sealed class TrainingOutcome
{
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }
    /// <summary>Epoch whose parameters the model holds after Fit (best validation epoch, or the last one).</summary>
    public required int BestEpoch { get; init; }
    /// <summary>Best validation value of <see cref="TrainConfig.ValidationMetric"/>, NaN when never evaluated.</summary>
    public required double BestValidation { get; init; }
    /// <summary>Training wall time summed over epochs (excluding validation).</summary>
    public required double TrainSeconds { get; init; }
    /// <summary>Validation wall time summed over epochs.</summary>
    public required double EvalSeconds { get; init; }
    /// <summary>Whether early stopping ended the run before the epoch budget.</summary>
    public required bool StoppedEarly { get; init; }
}

/// <summary>
/// Training diverged: a loss or parameter became NaN or infinite. The model is left at the last good
/// state (the best checkpoint when one exists).
/// </summary>
public sealed class TrainingDivergedException(int epoch, int step, string message) : Exception(message)
{
    public int Epoch { get; } = epoch;
    public int Step { get; } = step;
}

/// <summary>
/// The training loop shared by every pairwise and pointwise model: each epoch shuffles the training
/// positives (seeded), pairs every positive with uniformly sampled negatives the user never trained on
/// (seeded, <see cref="NegativeSampler"/>), feeds mini-batches to <see cref="ITrainableRecommender.TrainStep"/>,
/// evaluates on the validation split, keeps the best state, and stops early when the validation metric
/// stalls. Shuffling and sampling draw from their own <see cref="Rng"/> streams of the run seed, so a seed
/// fixes the batches whatever the model.
/// </summary>
public sealed class Trainer
{
    private readonly TrainConfig _config;

    public Trainer(TrainConfig config)
    {
        config.Validate();
        _config = config;
    }

    /// <summary>Raised after every epoch (e.g. to append to the epoch log).</summary>
    public event Action<EpochRecord>? EpochCompleted;

    /// <summary>Raised when a new best state exists (e.g. to write the best checkpoint).</summary>
    public event Action<int, byte[]>? NewBest;

    /// <summary>Raised with a full resumable checkpoint at the end of every epoch and, when
    /// <see cref="CheckpointEverySteps"/> &gt; 0, every that many batches inside an epoch.</summary>
    public event Action<TrainerCheckpoint>? Checkpoint;

    /// <summary>Mid-epoch checkpoint interval in batches (0 = only at epoch ends).</summary>
    public int CheckpointEverySteps { get; set; }

    /// <summary>Progress inside epochs, at most every few batches.</summary>
    public IProgress<TrainProgress>? Progress { get; set; }

    /// <summary>Optional measurements of the model after each epoch's last step (before validation), stored in
    /// <see cref="EpochRecord.Diagnostics"/>. It must not change the model or draw from the run's random streams.</summary>
    public Func<ITrainableRecommender, IReadOnlyDictionary<string, double>?>? EpochDiagnostics { get; set; }

    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="train"/>. <paramref name="validate"/> returns the
    /// validation metrics of the model's current parameters (null: no validation; the last epoch is kept).
    /// With <paramref name="resume"/>, continues a run from its checkpoint: the result is identical to the
    /// uninterrupted run (bit for bit for engines that are deterministic for a thread count). On return the
    /// model holds the best epoch's state.
    /// </summary>
    public TrainingOutcome Fit(ITrainableRecommender model, UserItems train,
        Func<IRecommender, IReadOnlyDictionary<string, double>>? validate, CancellationToken cancel = default,
        TrainerCheckpoint? resume = null)
    {
        if (train.NumUsers != model.NumUsers || train.NumItems != model.NumItems)
            throw new ArgumentException($"Model shape {model.NumUsers}×{model.NumItems} differs from the training data {train.NumUsers}×{train.NumItems}.");
        if (train.Count == 0) throw new ArgumentException("The training split is empty.");

        var c = _config;
        ComputeThreads.Set(c.Threads);
        var sampler = new NegativeSampler(train);
        var (pairUsers, pairItems) = train.ToPairs();
        int n = pairUsers.Length;
        var order = new int[n];
        var shuffleRng = new Rng(c.Seed, "trainer.shuffle");
        var negativeRng = new Rng(c.Seed, "trainer.negatives");
        var batch = new TrainingBatch(c.BatchSize, c.NegativesPerPositive);
        int stepsPerEpoch = (n + c.BatchSize - 1) / c.BatchSize;

        var stopper = new EarlyStopping(Math.Max(1, c.Patience));
        var epochs = new List<EpochRecord>();
        byte[]? bestState = null;
        int bestEpoch = 0;
        double trainSeconds = 0, evalSeconds = 0;
        bool stoppedEarly = false;
        int firstEpoch = 1, resumeStep = 0;
        double resumeLoss = 0, resumeSeconds = 0;
        if (resume is not null)
        {
            model.LoadState(resume.ModelState);
            shuffleRng.SetState(resume.ShuffleStateAtEpochStart);
            negativeRng.SetState(resume.NegativeState);
            stopper.Restore(resume.BestValue, resume.BestEpoch, resume.BadEvaluations);
            epochs.AddRange(resume.Epochs);
            bestState = resume.BestState;
            bestEpoch = resume.BestEpoch;
            trainSeconds = resume.TrainSeconds;
            evalSeconds = resume.EvalSeconds;
            firstEpoch = resume.Epoch;
            resumeStep = resume.Step;
            resumeLoss = resume.EpochLossSoFar;
            resumeSeconds = resume.EpochSecondsSoFar;
            if (resume.Step == 0 && epochs.Count > 0 && c.Patience > 0 && stopper.ShouldStop)
                firstEpoch = c.Epochs + 1; // the interrupted run had already decided to stop
        }
        var sw = new Stopwatch();

        // Divergence: restore the best state in memory and explain; nothing non-finite was checkpointed, because the
        // parameters are checked before every checkpoint and validation.
        TrainingDivergedException Diverged(int epoch, int step, string what)
        {
            if (bestState is not null) model.LoadState(bestState);
            return new TrainingDivergedException(epoch, step,
                $"{what} at epoch {epoch}, step {step} of {stepsPerEpoch}: training stopped. " +
                (bestState is not null ? $"The model was reset to the best state (epoch {bestEpoch}). " : "") +
                "The checkpoints on disk are the last good ones. " +
                "Likely causes: a learning rate too high for this model, or a margin/scale that lets distances blow up; " +
                "try a 3–10× lower learning rate, a smaller margin, or gradient clipping.");
        }

        for (int epoch = firstEpoch; epoch <= c.Epochs; epoch++)
        {
            cancel.ThrowIfCancellationRequested();
            sw.Restart();
            // The epoch's order is a fresh permutation drawn from the shuffle stream, so a checkpoint needs
            // only the stream's state at the epoch start to rebuild it.
            var shuffleStateAtStart = shuffleRng.GetState();
            for (int x = 0; x < n; x++) order[x] = x;
            if (c.Shuffle) shuffleRng.Shuffle(order.AsSpan());
            double lossSum = 0, carriedSeconds = 0;
            int step = 0;
            if (epoch == firstEpoch && resumeStep > 0)
            {
                step = resumeStep;
                lossSum = resumeLoss;
                carriedSeconds = resumeSeconds;
            }
            for (int start = step * c.BatchSize; start < n; start += c.BatchSize)
            {
                int count = Math.Min(c.BatchSize, n - start);
                for (int b = 0; b < count; b++)
                {
                    // the pairs are read in shuffled order: fetch a few ahead (big sets do not fit in the caches)
                    if (b + 16 < count) { int ahead = order[start + b + 16]; CacheHint.Prefetch(pairUsers, ahead); CacheHint.Prefetch(pairItems, ahead); }
                    int idx = order[start + b];
                    batch.Users[b] = pairUsers[idx];
                    batch.Positives[b] = pairItems[idx];
                }
                batch.Count = count;
                sampler.Fill(batch.Users.AsSpan(0, count), batch.Negatives.AsSpan(0, count * c.NegativesPerPositive),
                    c.NegativesPerPositive, negativeRng);
                double loss = model.TrainStep(batch);
                step++;
                if (!double.IsFinite(loss)) throw Diverged(epoch, step, $"The loss became {loss}");
                lossSum += loss;
                if (Progress is not null && (step % 16 == 0 || start + count >= n))
                    Progress.Report(new TrainProgress(epoch, c.Epochs, step, stepsPerEpoch, lossSum, start + count));
                if (Checkpoint is not null && CheckpointEverySteps > 0 && step % CheckpointEverySteps == 0 && start + count < n)
                {
                    if (!model.ParametersAreFinite()) throw Diverged(epoch, step, "A model parameter became NaN or infinite");
                    Checkpoint(Snapshot(epoch, step, shuffleStateAtStart, negativeRng, lossSum, carriedSeconds + sw.Elapsed.TotalSeconds,
                        stopper, trainSeconds, evalSeconds, epochs, model.SaveState(), bestState));
                }
            }
            model.EndEpoch(epoch);
            // a parameter can turn non-finite in the last step while its loss (computed before the update) was finite:
            // never validate, checkpoint or keep such a state
            if (!model.ParametersAreFinite()) throw Diverged(epoch, step, "A model parameter became NaN or infinite");
            sw.Stop();
            double tTrain = carriedSeconds + sw.Elapsed.TotalSeconds;
            trainSeconds += tTrain;
            var diagnostics = EpochDiagnostics?.Invoke(model);

            IReadOnlyDictionary<string, double>? metrics = null;
            bool isBest = false;
            double tEval = 0;
            bool evaluate = validate is not null && c.EvalEvery > 0 && (epoch % c.EvalEvery == 0 || epoch == c.Epochs);
            if (evaluate)
            {
                sw.Restart();
                try { metrics = validate!(model); }
                catch (Lrml.Evaluation.NonFiniteScoreException ex) { throw Diverged(epoch, step, "The model scored NaN in validation (" + ex.Message + ")"); }
                sw.Stop();
                tEval = sw.Elapsed.TotalSeconds;
                evalSeconds += tEval;
                if (!metrics.TryGetValue(c.ValidationMetric, out double value))
                    throw new ArgumentException($"Validation metric '{c.ValidationMetric}' is not among the evaluated metrics: {string.Join(", ", metrics.Keys)}.");
                if (double.IsNaN(value)) throw Diverged(epoch, step, $"The validation {c.ValidationMetric} became NaN");
                isBest = stopper.Observe(epoch, value);
                if (isBest)
                {
                    bestState = model.SaveState();
                    bestEpoch = epoch;
                    NewBest?.Invoke(epoch, bestState);
                }
            }
            else if (validate is null || c.EvalEvery == 0)
            {
                bestEpoch = epoch; // no validation: the last epoch is the result
            }

            var record = new EpochRecord(epoch, lossSum, lossSum / n, tTrain, tEval, metrics, isBest, step) { Diagnostics = diagnostics };
            epochs.Add(record);
            EpochCompleted?.Invoke(record);
            bool stop = evaluate && c.Patience > 0 && stopper.ShouldStop && epoch < c.Epochs;
            Checkpoint?.Invoke(Snapshot(epoch + 1, 0, shuffleRng.GetState(), negativeRng, 0, 0, stopper, trainSeconds, evalSeconds,
                epochs, model.SaveState(), bestState, bestEpochOverride: bestEpoch));
            if (stop)
            {
                stoppedEarly = true;
                break;
            }
        }

        if (epochs.Count == 0) throw new InvalidOperationException("No epoch was run (the checkpoint was already complete?).");
        if (bestState is not null && bestEpoch != epochs[^1].Epoch) model.LoadState(bestState);
        return new TrainingOutcome
        {
            Epochs = epochs,
            BestEpoch = bestEpoch == 0 ? epochs[^1].Epoch : bestEpoch,
            BestValidation = bestState is null ? double.NaN : stopper.Best,
            TrainSeconds = trainSeconds,
            EvalSeconds = evalSeconds,
            StoppedEarly = stoppedEarly || (resume is not null && firstEpoch > c.Epochs && epochs[^1].Epoch < c.Epochs),
        };
    }

    private static TrainerCheckpoint Snapshot(int epoch, int step, ulong[] shuffleState, Rng negativeRng, double loss, double seconds,
        EarlyStopping stopper, double trainSeconds, double evalSeconds, List<EpochRecord> epochs, byte[] modelState, byte[]? bestState,
        int? bestEpochOverride = null) => new()
    {
        Epoch = epoch, Step = step, ShuffleStateAtEpochStart = shuffleState, NegativeState = negativeRng.GetState(),
        EpochLossSoFar = loss, EpochSecondsSoFar = seconds, BestValue = stopper.Best,
        BestEpoch = bestEpochOverride ?? stopper.BestEpoch, BadEvaluations = stopper.BadEvaluations,
        TrainSeconds = trainSeconds, EvalSeconds = evalSeconds, Epochs = epochs.ToList(), ModelState = modelState, BestState = bestState,
    };
}
