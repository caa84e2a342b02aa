import type { Request } from 'express';
import { cookieOptions, DASHBOARD_PATH } from './dashboard-auth';

function req(secure: boolean, forwarded?: string): Request {
  return { secure, headers: forwarded === undefined ? {} : { 'x-forwarded-proto': forwarded } } as unknown as Request;
}

describe('dashboard cookie options', () => {
  it('is HttpOnly, SameSite=Strict and limited to the dashboard path', () => {
    expect(cookieOptions(req(false))).toEqual({ httpOnly: true, sameSite: 'strict', path: DASHBOARD_PATH, secure: false });
  });

  it('is Secure over https, direct or through a proxy (the first hop of X-Forwarded-Proto)', () => {
    expect(cookieOptions(req(true)).secure).toBe(true);
    expect(cookieOptions(req(false, 'HTTPS')).secure).toBe(true);
    expect(cookieOptions(req(false, 'https, http')).secure).toBe(true);
    expect(cookieOptions(req(false, 'http, https')).secure).toBe(false);
  });
});
