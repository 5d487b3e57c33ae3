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
/// Training diverged: a loss or parameter became NaN or infinite, a parameter exploded, or the loss rose far above its
/// initial level (<see cref="DivergenceRules"/>). <see cref="Step"/> is the first step found bad. The model is left at
/// the last good state (the best checkpoint when one exists).
/// </summary>
public sealed class TrainingDivergedException(int epoch, int step, string message) : Exception(message)
{
    public int Epoch { get; } = epoch;
    public int Step { get; } = step;
}

/// <summary>
/// When the trainer calls a run diverged although every number is still finite. Both rules compare the run with itself
/// at its start, so they hold whatever the model's loss scale; the bounds are far outside anything a healthy run of the
/// kit's presets reaches (measured: see the README, "Reliability").
/// <list type="bullet">
/// <item>Loss: an epoch whose mean loss per training positive exceeds <see cref="LossFactor"/> × max(the loss per positive
/// of the run's first step, <see cref="LossFloor"/>). The step reported is the first step of that epoch whose own loss
/// per positive exceeded the bound (a single noisy batch above it does not stop a run whose epoch mean stays below).</item>
/// <item>Parameters: the largest |parameter| exceeds <see cref="ParameterFactor"/> × max(its value at initialisation, 1),
/// or is NaN/∞. It is checked at every epoch end and before every checkpoint; when it fails, the trainer replays the
/// steps since the last good state with a check after each one, so the step reported is the first bad one.</item>
/// </list>
/// </summary>
internal static class DivergenceRules
{
    /// <summary>How far above its initial level the epoch's loss per positive may go.</summary>
    public const double LossFactor = 1000;
    /// <summary>Floor of the loss reference, so a run starting at a near-zero loss is not stopped for a normal rise.</summary>
    public const double LossFloor = 0.1;
    /// <summary>How far above its initial scale the largest |parameter| may go.</summary>
    public const double ParameterFactor = 1e4;

    /// <summary>The loss bound per training positive for a run whose first step had <paramref name="initialLoss"/> per positive.</summary>
    public static double LossBound(double initialLoss) => LossFactor * Math.Max(double.IsFinite(initialLoss) ? initialLoss : 0, LossFloor);

    /// <summary>The bound on the largest |parameter| for a model that started at <paramref name="initialMaxAbs"/>.</summary>
    public static double ParameterBound(double initialMaxAbs) => ParameterFactor * Math.Max(double.IsFinite(initialMaxAbs) ? initialMaxAbs : 0, 1);
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
        // a batch larger than the training set is the training set: never allocate more than it
        int batchSize = (int)Math.Min(c.BatchSize, (long)n);
        var batch = new TrainingBatch(batchSize, c.NegativesPerPositive);
        int stepsPerEpoch = (int)((n + (long)batchSize - 1) / batchSize);

        var stopper = new EarlyStopping(Math.Max(1, c.Patience));
        var epochs = new List<EpochRecord>();
        byte[]? bestState = null;
        int bestEpoch = 0;
        double trainSeconds = 0, evalSeconds = 0;
        bool stoppedEarly = false;
        int firstEpoch = 1, resumeStep = 0, resumeBreach = 0;
        double resumeLoss = 0, resumeSeconds = 0;
        double initialLoss = double.NaN, initialMaxAbs = double.NaN;
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
            resumeBreach = resume.LossBreachStep;
            initialLoss = resume.InitialLoss;
            initialMaxAbs = resume.InitialMaxAbs;
            // a checkpoint from before the references were recorded: the first epoch's mean loss and the resumed state
            if (double.IsNaN(initialLoss) && epochs.Count > 0) initialLoss = epochs[0].MeanLoss;
            if (resume.Step == 0 && epochs.Count > 0 && c.Patience > 0 && stopper.ShouldStop)
                firstEpoch = c.Epochs + 1; // the interrupted run had already decided to stop
        }
        if (double.IsNaN(initialMaxAbs)) initialMaxAbs = model.MaxAbsParameter();
        double parameterBound = DivergenceRules.ParameterBound(initialMaxAbs);
        double lossBound = DivergenceRules.LossBound(initialLoss);
        var sw = new Stopwatch();

        // The last state known to be good, from which a failed parameter check is replayed step by step.
        byte[] replayState = resume?.ModelState ?? model.SaveState();
        ulong[] replayNegatives = negativeRng.GetState();
        int replayStep = resumeStep;
        byte[]? endState = null;     // the state saved at the last epoch end, which is the next epoch's start

        // One optimiser step on the batch starting at position start of the epoch's order.
        double Step(int start)
        {
            int count = (int)Math.Min(batchSize, (long)n - start);
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
            return model.TrainStep(batch);
        }

        // What is wrong with the parameters, or null when they pass the rule.
        string? ParameterProblem()
        {
            double m = model.MaxAbsParameter();
            if (!double.IsFinite(m)) return "A model parameter became NaN or infinite";
            if (m > parameterBound)
                return $"A model parameter exploded to {Num(m)} (more than {DivergenceRules.ParameterFactor:N0} × max(1, {Num(initialMaxAbs)}), " +
                       "its largest magnitude at initialisation)";
            return null;
        }

        // Divergence: restore the best state in memory and explain; nothing non-finite or exploded was checkpointed,
        // because the parameters are checked before every checkpoint and validation.
        TrainingDivergedException Diverged(int epoch, int step, string what, string detail = "")
        {
            if (bestState is not null) model.LoadState(bestState);
            return new TrainingDivergedException(epoch, step,
                $"{what} at epoch {epoch}, step {step} of {stepsPerEpoch}{detail}: training stopped. " +
                (bestState is not null ? $"The model was reset to the best state (epoch {bestEpoch}). " : "") +
                "The checkpoints on disk are the last good ones. " +
                "Likely causes: a learning rate too high for this model, or a margin/scale that lets distances blow up; " +
                "try a 3–10× lower learning rate, a smaller margin, or gradient clipping.");
        }

        // A check failed after step `failedStep` (`what` says how): replay from the last good state with a parameter
        // check after every step, so the message names the first step that broke them, not the step that noticed.
        TrainingDivergedException DivergedAfterReplay(int epoch, int failedStep, string what)
        {
            model.LoadState(replayState);
            negativeRng.SetState(replayNegatives);
            for (int s = replayStep; s < failedStep; s++)
            {
                double loss = Step(s * batchSize);
                string? problem = ParameterProblem();
                if (problem is not null) return Diverged(epoch, s + 1, problem, s + 1 < failedStep ? $" (noticed after step {failedStep})" : "");
                if (!double.IsFinite(loss)) return Diverged(epoch, s + 1, $"The loss became {loss}");
            }
            return Diverged(epoch, failedStep, what); // the replay did not reproduce it (a non-deterministic engine)
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
            int step = 0, lossBreach = 0;
            if (epoch == firstEpoch && resumeStep > 0)
            {
                step = resumeStep;
                lossSum = resumeLoss;
                carriedSeconds = resumeSeconds;
                lossBreach = resumeBreach;
            }
            else if (epoch != firstEpoch)
            {
                replayState = endState ?? model.SaveState();
                replayNegatives = negativeRng.GetState();
                replayStep = 0;
            }
            for (int start = step * batchSize; start < n; start += batchSize)
            {
                int count = (int)Math.Min(batchSize, (long)n - start);
                double loss = Step(start);
                step++;
                if (!double.IsFinite(loss)) throw DivergedAfterReplay(epoch, step, $"The loss became {loss}");
                if (double.IsNaN(initialLoss))
                {
                    initialLoss = loss / count;
                    lossBound = DivergenceRules.LossBound(initialLoss);
                }
                if (lossBreach == 0 && loss / count > lossBound) lossBreach = step;
                lossSum += loss;
                if (Progress is not null && (step % 16 == 0 || start + count >= n))
                    Progress.Report(new TrainProgress(epoch, c.Epochs, step, stepsPerEpoch, lossSum, start + count));
                if (Checkpoint is not null && CheckpointEverySteps > 0 && step % CheckpointEverySteps == 0 && start + count < n)
                {
                    if (ParameterProblem() is string problem) throw DivergedAfterReplay(epoch, step, problem);
                    var state = model.SaveState();
                    (replayState, replayNegatives, replayStep) = (state, negativeRng.GetState(), step);
                    Checkpoint(Snapshot(epoch, step, shuffleStateAtStart, negativeRng, lossSum, carriedSeconds + sw.Elapsed.TotalSeconds,
                        stopper, trainSeconds, evalSeconds, epochs, state, bestState, initialLoss, initialMaxAbs, lossBreach));
                }
            }
            model.EndEpoch(epoch);
            // a parameter can break in the last step while its loss (computed before the update) was finite, or explode
            // while the loss stays finite (clipped or saturated losses): never validate, checkpoint or keep such a state
            if (ParameterProblem() is string endProblem) throw DivergedAfterReplay(epoch, step, endProblem);
            double meanLoss = lossSum / n;
            if (meanLoss > lossBound)
                throw Diverged(epoch, lossBreach > 0 ? lossBreach : step,
                    $"The loss per training positive rose above {Num(lossBound)} ({DivergenceRules.LossFactor:N0} × max({Num(initialLoss)}, " +
                    $"{Num(DivergenceRules.LossFloor)}), its level at the first step)",
                    $" and averaged {Num(meanLoss)} over the epoch");
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

            var record = new EpochRecord(epoch, lossSum, meanLoss, tTrain, tEval, metrics, isBest, step) { Diagnostics = diagnostics };
            epochs.Add(record);
            EpochCompleted?.Invoke(record);
            bool stop = evaluate && c.Patience > 0 && stopper.ShouldStop && epoch < c.Epochs;
            endState = null;
            if (Checkpoint is not null)
            {
                endState = model.SaveState();
                Checkpoint(Snapshot(epoch + 1, 0, shuffleRng.GetState(), negativeRng, 0, 0, stopper, trainSeconds, evalSeconds,
                    epochs, endState, bestState, initialLoss, initialMaxAbs, 0, bestEpochOverride: bestEpoch));
            }
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

    /// <summary>A number for a message: plain up to a million, else in exponent form (1e+06 reads worse than 1e+6).</summary>
    private static string Num(double v) => Math.Abs(v) is >= 1e-3 and < 1e6 || v == 0
        ? v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)
        : v.ToString("0.##e+0", System.Globalization.CultureInfo.InvariantCulture);

    private static TrainerCheckpoint Snapshot(int epoch, int step, ulong[] shuffleState, Rng negativeRng, double loss, double seconds,
        EarlyStopping stopper, double trainSeconds, double evalSeconds, List<EpochRecord> epochs, byte[] modelState, byte[]? bestState,
        double initialLoss, double initialMaxAbs, int lossBreach, int? bestEpochOverride = null) => new()
    {
        InitialLoss = initialLoss, InitialMaxAbs = initialMaxAbs, LossBreachStep = lossBreach,
        Epoch = epoch, Step = step, ShuffleStateAtEpochStart = shuffleState, NegativeState = negativeRng.GetState(),
        EpochLossSoFar = loss, EpochSecondsSoFar = seconds, BestValue = stopper.Best,
        BestEpoch = bestEpochOverride ?? stopper.BestEpoch, BadEvaluations = stopper.BadEvaluations,
        TrainSeconds = trainSeconds, EvalSeconds = evalSeconds, Epochs = epochs.ToList(), ModelState = modelState, BestState = bestState,
    };
}
