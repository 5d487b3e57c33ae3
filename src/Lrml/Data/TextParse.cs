using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Lrml.Data;

/// <summary>
/// Allocation-free parsing of the fields of one data line (ASCII digits, decimal ratings, dates) and the
/// wording of the errors, shared by every reader so that all of them reject the same bad inputs alike.
/// </summary>
internal static class TextParse
{
    /// <summary>Separators a wrong-separator message may suggest, in the order they are tried.</summary>
    private static readonly string[] CommonSeparators = ["::", "\t", ",", ";", "|", " "];

    /// <summary>Splits <paramref name="line"/> on <paramref name="sep"/> into <paramref name="fields"/>.
    /// Returns the number of fields found; when there are more fields than slots, returns slots + 1 (the
    /// slots then hold the first fields).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Split(ReadOnlySpan<byte> line, ReadOnlySpan<byte> sep, Span<Range> fields)
    {
        int n = 0, pos = 0;
        while (true)
        {
            int k = line[pos..].IndexOf(sep);
            if (k < 0)
            {
                if (n == fields.Length) return n + 1;
                fields[n++] = new Range(pos, line.Length);
                return n;
            }
            if (n == fields.Length) return n + 1;
            fields[n++] = new Range(pos, pos + k);
            pos += k + sep.Length;
        }
    }

    /// <summary>Splits and throws a wrong-separator / wrong-field-count error unless exactly
    /// <paramref name="fields"/>.Length fields are present.</summary>
    public static void SplitExact(LineReader r, ReadOnlySpan<byte> line, ReadOnlySpan<byte> sep, Span<Range> fields)
    {
        int n = Split(line, sep, fields);
        if (n != fields.Length) throw FieldCountError(r, line, sep, fields.Length, n, atLeast: false);
    }

    /// <summary>Error for a line that does not have the expected number of fields; says which separator
    /// was expected, what the line looks like and, when another separator is present, which one.</summary>
    public static DataFormatException FieldCountError(LineReader r, ReadOnlySpan<byte> line, ReadOnlySpan<byte> sep,
        int expected, int found, bool atLeast)
    {
        string sepName = SeparatorName(sep);
        string preview = Preview(line);
        string expectedText = (atLeast ? "at least " : "") + $"{expected} fields separated by {sepName}";
        if (line.IndexOf(sep) < 0)
        {
            string? other = GuessSeparator(line, sep);
            return r.Error($"wrong separator: expected {expectedText}, but the line contains no {sepName}" +
                (other is null ? "" : $" (it seems to use {SeparatorName(Encoding.ASCII.GetBytes(other))})") +
                $"; the line looks like \"{preview}\"");
        }
        string what = found > expected ? "too many fields" : "too few fields (truncated line?)";
        return r.Error($"wrong field count: expected {expectedText}, found {(found > expected ? "more" : found.ToString(CultureInfo.InvariantCulture))}: {what}; the line looks like \"{preview}\"");
    }

    private static string? GuessSeparator(ReadOnlySpan<byte> line, ReadOnlySpan<byte> expected)
    {
        foreach (var s in CommonSeparators)
        {
            var b = Encoding.ASCII.GetBytes(s);
            if (b.AsSpan().SequenceEqual(expected)) continue;
            if (line.IndexOf(b) >= 0) return s;
        }
        return null;
    }

    /// <summary>Human name of a separator, e.g. TAB ('\t') or '::'.</summary>
    public static string SeparatorName(ReadOnlySpan<byte> sep) => Encoding.ASCII.GetString(sep) switch
    {
        "\t" => "TAB ('\\t')",
        " " => "a space (' ')",
        var s => $"'{s}'"
    };

    /// <summary>A printable excerpt of a line for messages (first 120 characters, control characters escaped).</summary>
    public static string Preview(ReadOnlySpan<byte> line, int max = 120)
    {
        var sb = new StringBuilder();
        int take = Math.Min(line.Length, max);
        for (int k = 0; k < take; k++)
        {
            byte b = line[k];
            if (b == (byte)'\t') sb.Append("\\t");
            else if (b == (byte)'\r') sb.Append("\\r");
            else if (b < 0x20 || (b >= 0x7F && b < 0xA0)) sb.Append("\\x").Append(b.ToString("X2", CultureInfo.InvariantCulture));   // C0/C1 controls are invisible
            else sb.Append((char)b);   // Latin-1 view: shows accented bytes as characters
        }
        if (line.Length > max) sb.Append("…");
        return sb.ToString();
    }

    /// <summary>Removes leading and trailing ASCII spaces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<byte> TrimSpaces(ReadOnlySpan<byte> s)
    {
        int a = 0, b = s.Length;
        while (a < b && s[a] == (byte)' ') a++;
        while (b > a && s[b - 1] == (byte)' ') b--;
        return s[a..b];
    }

    /// <summary>Whether the line is empty or only spaces.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsBlank(ReadOnlySpan<byte> s) => s.IndexOfAnyExcept((byte)' ', (byte)'\t') < 0;

    /// <summary>Parses a non-negative integer id (ASCII digits only, at most 18; surrounding spaces allowed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ParseId(LineReader r, ReadOnlySpan<byte> field, string what)
    {
        if (field.Length == 0 || field.Length > 18 || field[0] == (byte)' ' || field[^1] == (byte)' ') return ParseIdSlow(r, field, what);
        long v = 0;
        foreach (byte c in field)
        {
            uint d = (uint)(c - '0');
            if (d > 9) return ParseIdSlow(r, field, what);
            v = v * 10 + d;
        }
        return v;
    }

    private static long ParseIdSlow(LineReader r, ReadOnlySpan<byte> field, string what)
    {
        var s = TrimSpaces(field);
        if (s.Length == 0) throw r.Error($"{what} is empty");
        if (BadByte(r, s, what) is { } bad) throw bad;
        if (s.Length > 18) throw r.Error($"{what} \"{Preview(s, 40)}\" is not an integer id of at most 18 digits");
        long v = 0;
        foreach (byte c in s)
        {
            uint d = (uint)(c - '0');
            if (d > 9) throw r.Error($"{what} \"{Preview(s, 40)}\" is not numeric (integer ids expected)");
            v = v * 10 + d;
        }
        return v;
    }

    /// <summary>Parses a signed integer (e.g. unix seconds).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ParseInteger(LineReader r, ReadOnlySpan<byte> field, string what)
    {
        if (field.Length == 0 || field.Length > 18 || field[0] == (byte)'-' || field[0] == (byte)' ' || field[^1] == (byte)' ')
            return ParseIntegerSlow(r, field, what);
        long v = 0;
        foreach (byte c in field)
        {
            uint d = (uint)(c - '0');
            if (d > 9) return ParseIntegerSlow(r, field, what);
            v = v * 10 + d;
        }
        return v;
    }

    private static long ParseIntegerSlow(LineReader r, ReadOnlySpan<byte> field, string what)
    {
        var s = TrimSpaces(field);
        if (BadByte(r, s, what) is { } bad) throw bad;
        bool neg = s.Length > 0 && s[0] == (byte)'-';
        var digits = neg ? s[1..] : s;
        if (digits.Length == 0 || digits.Length > 18) throw r.Error($"{what} \"{Preview(s, 40)}\" is not an integer");
        long v = 0;
        foreach (byte c in digits)
        {
            uint d = (uint)(c - '0');
            if (d > 9) throw r.Error($"{what} \"{Preview(s, 40)}\" is not an integer");
            v = v * 10 + d;
        }
        return neg ? -v : v;
    }

    private static readonly double[] Pow10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

    /// <summary>Parses a rating or weight: a finite, non-negative decimal number. Fast path: digits with at most
    /// one '.', up to 15 digits (exact in double, one rounding to float); anything else goes through
    /// <see cref="double.TryParse(ReadOnlySpan{byte}, NumberStyles, IFormatProvider?, out double)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ParseRating(LineReader r, ReadOnlySpan<byte> field, string what = "rating")
    {
        if (field.Length == 0 || field.Length > 16) return ParseRatingSlow(r, field, what);
        long mant = 0;
        int frac = -1;
        foreach (byte c in field)
        {
            uint d = (uint)(c - '0');
            if (d <= 9)
            {
                mant = mant * 10 + d;
                if (frac >= 0) frac++;
            }
            else if (c == (byte)'.' && frac < 0) frac = 0;
            else return ParseRatingSlow(r, field, what);
        }
        if (frac == field.Length - 1) return ParseRatingSlow(r, field, what);   // no digit before the point (".", ".5")
        return (float)(frac > 0 ? mant / Pow10[frac] : mant);
    }

    private static float ParseRatingSlow(LineReader r, ReadOnlySpan<byte> field, string what)
    {
        var s = TrimSpaces(field);
        if (s.Length == 0) throw r.Error($"{what} is empty");
        if (BadByte(r, s, what) is { } bad) throw bad;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
            throw r.Error($"{what} \"{Preview(s, 40)}\" is not a number");
        if (!double.IsFinite(v) || Math.Abs(v) > float.MaxValue) throw r.Error($"{what} \"{Preview(s, 40)}\" is not a finite number");
        if (v < 0) throw r.Error($"{what} \"{Preview(s, 40)}\" is negative");
        return (float)v;
    }

    /// <summary>Parses a date "YYYY-MM-DD" (optionally followed by "THH:MM:SS" or " HH:MM:SS" and an optional
    /// "Z"), read as UTC, into unix seconds.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ParseDate(LineReader r, ReadOnlySpan<byte> field, string what = "date")
    {
        if (!TryParseDate(TrimSpaces(field), out long secs)) ThrowBadDate(r, field, what);
        return secs;
    }

    private static void ThrowBadDate(LineReader r, ReadOnlySpan<byte> field, string what) =>
        throw BadByte(r, TrimSpaces(field), what) ?? r.Error($"{what} \"{Preview(TrimSpaces(field), 40)}\" is not a valid date YYYY-MM-DD");

    /// <summary>An error naming the first byte of <paramref name="field"/> that is not printable ASCII (and its column), or
    /// null. Numbers, ids and dates are plain ASCII, so such a byte is the real problem, not "not a number": a Windows-1252
    /// or Latin-1 character, a stray control character, a CR of CR-only line ends.</summary>
    internal static DataFormatException? BadByte(LineReader r, ReadOnlySpan<byte> field, string what)
    {
        int k = field.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E);
        return k < 0 ? null : r.Error(BadByteReason(field, k, r.Column(field, k), what));
    }

    /// <summary>The reason text of <see cref="BadByte"/> (shared with the NCF readers).</summary>
    internal static string BadByteReason(ReadOnlySpan<byte> field, int index, int column, string what)
    {
        byte b = field[index];
        string kind = b >= 0x80
            ? "which is not ASCII (a Windows-1252 or Latin-1 character, or part of a UTF-8 one?)"
            : "a control character" + b switch { 0x09 => " (TAB)", 0x0D => " (carriage return, CR)", 0x0C => " (form feed)", 0x0B => " (vertical tab)", _ => "" };
        return $"{what} \"{Preview(field, 40)}\" contains the byte 0x{b.ToString("X2", CultureInfo.InvariantCulture)}" +
               (column > 0 ? $" at column {column}" : "") + $", {kind}; numbers, ids and dates must be plain ASCII";
    }

    /// <summary>Earliest timestamp the kit accepts: 1970-01-01T00:00:00Z (Unix seconds).</summary>
    public const long MinTimestamp = 0;
    /// <summary>Latest timestamp the kit accepts: 2099-12-31T23:59:59Z (Unix seconds).</summary>
    public const long MaxTimestamp = 4_102_444_799;

    /// <summary>Returns <paramref name="seconds"/> when it lies in [<see cref="MinTimestamp"/>, <see cref="MaxTimestamp"/>];
    /// otherwise throws a format error naming the value and, when the number looks like milliseconds or microseconds, that.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long CheckTimestamp(LineReader r, ReadOnlySpan<byte> field, long seconds, string what = "timestamp")
    {
        if ((ulong)seconds <= MaxTimestamp) return seconds;
        throw TimestampRangeError(r, field, seconds, what);
    }

    private static DataFormatException TimestampRangeError(LineReader r, ReadOnlySpan<byte> field, long seconds, string what)
    {
        string hint = seconds > MaxTimestamp && seconds / 1000 <= MaxTimestamp ? " (it looks like milliseconds)"
            : seconds > MaxTimestamp && seconds / 1_000_000 <= MaxTimestamp ? " (it looks like microseconds)" : "";
        return r.Error($"{what} \"{Preview(TrimSpaces(field), 40)}\" is out of range{hint}: the kit reads times from 1970-01-01 to " +
                       $"2099-12-31 UTC (Unix seconds {MinTimestamp} to {MaxTimestamp})");
    }

    /// <summary>Returns <paramref name="id"/> when it lies in [<paramref name="min"/>, <paramref name="max"/>], else throws.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long CheckId(LineReader r, long id, long min, long max, string what)
    {
        if (id >= min && id <= max) return id;
        throw r.Error($"{what} {id} is out of range: this format's ids run from {min} to {max}" +
                      (max == int.MaxValue ? " (32-bit)" : ""));
    }

    /// <summary>Returns <paramref name="rating"/> when it is on <paramref name="scale"/>, else throws.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float CheckRating(LineReader r, ReadOnlySpan<byte> field, float rating, RatingScale scale, string what = "rating")
    {
        if (scale.Contains(rating)) return rating;
        throw r.Error($"{what} \"{Preview(TrimSpaces(field), 40)}\" is not on this format's scale: {scale}");
    }

    /// <summary>Date parser behind <see cref="ParseDate"/>; validates month and day (leap years included).</summary>
    public static bool TryParseDate(ReadOnlySpan<byte> s, out long unixSeconds)
    {
        unixSeconds = 0;
        if (s.Length < 10 || s[4] != (byte)'-' || s[7] != (byte)'-') return false;
        if (!Digits(s[..4], out int y) || !Digits(s.Slice(5, 2), out int m) || !Digits(s.Slice(8, 2), out int d)) return false;
        if (m < 1 || m > 12 || d < 1 || d > DateTime.DaysInMonth(Math.Max(1, y), m) || y < 1) return false;
        long seconds = 0;
        if (s.Length > 10)
        {
            var t = s[10..];
            if (t[^1] == (byte)'Z') t = t[..^1];
            if (t.Length != 9 || (t[0] != (byte)'T' && t[0] != (byte)' ') || t[3] != (byte)':' || t[6] != (byte)':') return false;
            if (!Digits(t.Slice(1, 2), out int hh) || !Digits(t.Slice(4, 2), out int mm) || !Digits(t.Slice(7, 2), out int ss)) return false;
            if (hh > 23 || mm > 59 || ss > 60) return false;
            seconds = hh * 3600L + mm * 60L + ss;
        }
        unixSeconds = DaysFromCivil(y, m, d) * 86400L + seconds;
        return true;
    }

    private static bool Digits(ReadOnlySpan<byte> s, out int v)
    {
        v = 0;
        foreach (byte c in s)
        {
            uint d = (uint)(c - '0');
            if (d > 9) return false;
            v = v * 10 + (int)d;
        }
        return true;
    }

    /// <summary>Days since 1970-01-01 of a proleptic Gregorian date (civil-from-days inverse, era arithmetic).</summary>
    public static long DaysFromCivil(int y, int m, int d)
    {
        y -= m <= 2 ? 1 : 0;
        long era = (y >= 0 ? y : y - 399) / 400;
        long yoe = y - era * 400;
        long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
    }

    /// <summary>Year from a MovieLens-style title ending in "(1995)" (also "(1995– )"/"(2006–2007)" forms take
    /// the first year); null when absent.</summary>
    public static int? YearFromTitle(string title)
    {
        var t = title.AsSpan().TrimEnd();
        if (t.Length < 6 || t[^1] != ')') return null;
        int open = t.LastIndexOf('(');
        if (open < 0) return null;
        var inner = t[(open + 1)..^1].Trim();
        if (inner.Length < 4) return null;
        for (int k = 0; k < 4; k++) if (!char.IsAsciiDigit(inner[k])) return null;
        if (inner.Length > 4 && char.IsAsciiDigit(inner[4])) return null;
        int year = int.Parse(inner[..4], CultureInfo.InvariantCulture);
        return year is >= 1800 and <= 2200 ? year : null;
    }

    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    /// <summary>Decodes a whole metadata file: strict UTF-8 when valid, otherwise Latin-1 (ISO-8859-1).
    /// Returns the encoding used so provenance can record it.</summary>
    public static Encoding DetectUtf8OrLatin1(ReadOnlySpan<byte> bytes) =>
        System.Text.Unicode.Utf8.IsValid(bytes) ? StrictUtf8 : Encoding.Latin1;
}
